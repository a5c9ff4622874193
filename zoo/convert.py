"""``zoo convert``: a published file -> a project checkpoint directory with ``zoo.json``, written whole or not
at all (built in a temporary sibling directory, then moved into place)."""
import json
import os
import shutil
import tempfile
import time

from zoo import registry
from zoo.source_hash import source_sha256

__all__ = ["ZOO_JSON", "read_meta", "convert"]

ZOO_JSON = "zoo.json"


def read_meta(model_dir):
    """``model_dir``'s ``zoo.json`` as a dict; a ValueError naming the file when it is missing or unreadable."""
    path = os.path.join(model_dir, ZOO_JSON)
    if not os.path.isfile(path):
        raise ValueError("%s: not found; write the directory with `python -m zoo convert RELEASE SRC --out %s`"
                         % (path, model_dir))
    try:
        with open(path) as f:
            meta = json.load(f)
    except ValueError as e:
        raise ValueError("%s: not valid JSON (%s)" % (path, e))
    if not isinstance(meta, dict) or "release" not in meta:
        raise ValueError("%s: no `release` key" % path)
    return meta


def _check_out_dir(out_dir, release, digest):
    """Refuse an existing non-empty ``out_dir`` unless it holds this very model (then it is rewritten)."""
    if not os.path.exists(out_dir):
        return
    if not os.path.isdir(out_dir):
        raise ValueError("--out %s: exists and is not a directory" % out_dir)
    if not os.listdir(out_dir):
        return
    if not os.path.isfile(os.path.join(out_dir, ZOO_JSON)):
        raise ValueError("--out %s: not empty and not a zoo model directory; choose another --out" % out_dir)
    old = read_meta(out_dir)
    if (old.get("release"), old.get("sha256")) != (release, digest):
        raise ValueError("--out %s: holds another model (%s %s); it is not overwritten, choose another --out"
                         % (out_dir, old.get("release"), old.get("source")))


def convert(release_name, src, out_dir):
    """Convert ``src`` with release ``release_name``'s ``convert`` into ``out_dir``; returns the zoo.json dict."""
    release = registry.get_release(release_name)
    src = src.rstrip("/") or src
    if not os.path.exists(src) and not os.path.isfile(src + ".index"):  # a file, a directory or a checkpoint prefix
        raise ValueError("SRC %s: no such file or directory" % src)
    start = time.time()
    digest = source_sha256(src)
    _check_out_dir(out_dir, release_name, digest)
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".zoo-convert-", dir=parent)
    try:
        fields = release.convert(src, work)
        meta = {"release": release_name, "source": os.path.basename(src), "sha256": digest}
        meta.update({k: v for k, v in fields.items() if k not in meta})
        with open(os.path.join(work, ZOO_JSON), "w") as f:
            json.dump(meta, f, indent=2)
            f.write("\n")
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.rename(work, out_dir)
    finally:
        if os.path.exists(work):
            shutil.rmtree(work)
    print("zoo convert: %s %s (sha256 %s) -> %s in %.1f s"
          % (release_name, meta["source"], digest[:16], out_dir, time.time() - start))
    return meta
