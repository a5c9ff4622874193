"""The sha256 recorded in ``zoo.json`` for a published file or directory.

A file: the sha256 of its bytes (what ``sha256sum FILE`` prints). A directory (e.g. an unpacked TF-Hub module):
the sha256 of the text made of one line per file, in sorted order of the relative paths (``/``-separated),
``<sha256 of the file's bytes>  <relative path>\\n`` (what ``find . -type f | sort | xargs sha256sum``
prints, without the ``./``); empty directories and file metadata do not count.
A TF checkpoint prefix (``PREFIX.index`` exists, ``PREFIX`` does not): the same text over its files ``PREFIX.*``
(names relative to their directory).
"""
import hashlib
import os

__all__ = ["file_sha256", "source_sha256"]


def file_sha256(path, chunk=1 << 22):
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def source_sha256(path):
    """Hex sha256 of a file, or of a directory as the module docstring defines it."""
    if os.path.isfile(path):
        return file_sha256(path)
    lines = []
    if os.path.isdir(path):
        for base, dirs, files in os.walk(path):
            dirs.sort()
            for name in files:
                full = os.path.join(base, name)
                lines.append((os.path.relpath(full, path).replace(os.sep, "/"), file_sha256(full)))
    elif os.path.isfile(path + ".index"):
        folder, prefix = os.path.split(os.path.abspath(path))
        lines = [(name, file_sha256(os.path.join(folder, name)))
                 for name in os.listdir(folder) if name.startswith(prefix + ".")]
    else:
        raise ValueError("%s: no such file or directory" % path)
    text = "".join("%s  %s\n" % (digest, rel) for rel, digest in sorted(lines))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
