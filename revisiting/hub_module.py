"""Reading a TF1 Hub module (the revisiting release's published format) with plain TensorFlow, no
``tensorflow_hub``: the directory or its ``.tar.gz``, its meta graphs (``saved_model.pb``), its variables.

The format (``tensorflow_hub``'s ``ModuleDef`` FORMAT_V3): ``tfhub_module.pb``, ``saved_model.pb`` holding one
meta graph per tag set (the release: the inference graph untagged, the training graph tagged ``is_training``),
``variables/variables.{index,data-*}`` with the variables named as in the module graph (no ``module/`` scope).
"""
import contextlib
import os
import shutil
import tarfile
import tempfile

from common.tf1 import tf

MODULE_DEF = "tfhub_module.pb"
SAVED_MODEL = "saved_model.pb"


def is_hub_module(path):
    """True for a TF1 Hub module directory (``tfhub_module.pb`` present) or a ``.tar.gz``/``.tgz`` file."""
    if os.path.isdir(path):
        return os.path.exists(os.path.join(path, MODULE_DEF))
    return str(path).endswith((".tar.gz", ".tgz"))


def _module_root(top):
    for dirpath, _, files in sorted(os.walk(top)):
        if SAVED_MODEL in files:
            return dirpath
    return None


def _safe_extract(tar, dest, src):
    """Extract plain files and directories below ``dest``; any link or path leaving ``dest`` is an error."""
    root = os.path.realpath(dest)
    for member in tar.getmembers():
        target = os.path.realpath(os.path.join(dest, member.name))
        inside = target == root or target.startswith(root + os.sep)
        if not inside or not (member.isfile() or member.isdir()):
            raise ValueError("%s: refusing archive member %r (only files and folders inside the module)"
                             % (src, member.name))
    tar.extractall(dest)


@contextlib.contextmanager
def open_hub_module(src):
    """Yield the module directory of ``src`` (a directory, or a ``.tar.gz`` extracted to a temporary one)."""
    if not os.path.exists(src):
        raise ValueError("%s: no such Hub module (directory or .tar.gz)" % src)
    if os.path.isdir(src):
        root = _module_root(src) if not os.path.exists(os.path.join(src, SAVED_MODEL)) else src
        if root is None:
            raise ValueError("%s: not a Hub module (no %s)" % (src, SAVED_MODEL))
        yield root
        return
    tmp = tempfile.mkdtemp(prefix="hub_module_")
    try:
        try:
            with tarfile.open(src, "r:*") as tar:
                _safe_extract(tar, tmp, src)
        except (tarfile.TarError, OSError) as e:
            raise ValueError("%s: not a readable .tar.gz (%s)" % (src, e))
        root = _module_root(tmp)
        if root is None:
            raise ValueError("%s: the archive holds no %s" % (src, SAVED_MODEL))
        yield root
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _varint(data, pos):
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def meta_graphs(module_dir):
    """{frozenset(tags): tf.MetaGraphDef} of ``saved_model.pb`` (a ``SavedModel``: field 2 repeats the meta
    graphs; parsed field by field so that only tf.MetaGraphDef is needed)."""
    path = os.path.join(module_dir, SAVED_MODEL)
    with open(path, "rb") as f:
        data = f.read()
    graphs, pos = {}, 0
    try:
        while pos < len(data):
            key, pos = _varint(data, pos)
            field, wire = key >> 3, key & 7
            if wire == 0:
                _, pos = _varint(data, pos)
            elif wire == 2:
                size, pos = _varint(data, pos)
                if field == 2:
                    meta = tf.MetaGraphDef.FromString(data[pos:pos + size])
                    graphs[frozenset(meta.meta_info_def.tags)] = meta
                pos += size
            else:
                raise ValueError("wire type %d" % wire)
    except (IndexError, ValueError) as e:
        raise ValueError("%s: not a SavedModel (%s)" % (path, e))
    if not graphs:
        raise ValueError("%s: holds no meta graph" % path)
    return graphs


def inference_graph(module_dir):
    """The untagged meta graph (the one ``hub.Module`` uses by default); a ValueError listing the tag sets
    otherwise."""
    graphs = meta_graphs(module_dir)
    if frozenset() not in graphs:
        raise ValueError("%s: no untagged (inference) graph; tag sets: %s"
                         % (module_dir, sorted(sorted(t) for t in graphs)))
    return graphs[frozenset()]


def module_variables(module_dir):
    """{name: ndarray} of the module's ``variables/variables`` checkpoint."""
    prefix = os.path.join(module_dir, "variables", "variables")
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as e:  # TF's own NotFound/DataLoss kinds
        raise ValueError("%s: unreadable variables (%s)" % (prefix, str(e).strip().splitlines()[0]))
    return {name: reader.get_tensor(name) for name in sorted(reader.get_variable_to_shape_map())}
