"""The lemniscate release's checkpoint (``main.py``'s ``save_checkpoint``) -> the project's variables, exactly.

The file is the dict ``{epoch, arch, state_dict, lemniscate, best_prec1, optimizer}`` written by ``torch.save``;
``state_dict`` keys carry DataParallel's ``module.`` prefix (the release wraps the whole ResNet; only AlexNet/VGG
wrap ``model.features``), ``lemniscate`` is the pickled ``lib.NCEAverage.NCEAverage`` (buffers ``memory``
[N, 128] in the ImageFolder order of DATA/train and ``params`` = [K, T, Z, momentum]) or, for ``--nce-k 0``,
``lib.LinearAverage.LinearAverage`` (``params`` = [T, momentum]). Read with ``common.weights.torch_pickle``
(no code runs); every project variable comes from one named source tensor (``common.weights.mapping``).
"""
import numpy as np

from common.tf1 import tf
from common.weights.layouts import linear_to_dense, oihw_to_hwio
from common.weights.mapping import assign_exactly
from common.weights.torch_pickle import load_pth
from instance_disc.model import BANK_SCOPE, RELEASE_ARCHS, embedding

__all__ = ["BANK_NAME", "Z_NAME", "source_name", "model_shapes", "conversion_plan", "read_release"]

BANK_NAME, Z_NAME = BANK_SCOPE + "/memory_bank", BANK_SCOPE + "/nce_z"
_BN = {"gamma": "weight", "beta": "bias", "mean/EMA": "running_mean", "variance/EMA": "running_var"}


def source_name(project_name, prefix="module."):
    """The release's ``state_dict`` key of a project variable (``layer2/0/downsample/1/mean/EMA`` ->
    ``module.layer2.0.downsample.1.running_mean``), with its layout change (or None)."""
    if project_name == "embed_fc/kernel":
        return prefix + "fc.weight", linear_to_dense
    if project_name == "embed_fc/bias":
        return prefix + "fc.bias", None
    if project_name.endswith("/W"):
        return prefix + project_name[:-2].replace("/", ".") + ".weight", oihw_to_hwio
    for suffix, torch_name in _BN.items():
        if project_name.endswith("/" + suffix):
            return prefix + project_name[:-len(suffix) - 1].replace("/", ".") + "." + torch_name, None
    raise ValueError("project variable %s has no counterpart in the lemniscate release" % project_name)


def model_shapes(arch, low_dim):
    """{project variable: shape} of the embedding network ``arch`` (the release's ResNet) with a ``low_dim`` head."""
    cfg = {"arch": arch, "layout": "torchvision", "low_dim": low_dim, "width": 1, "stem": "imagenet",
           "zero_init": False}
    with tf.Graph().as_default():
        embedding(tf.zeros([1, 64, 64, 3]), False, cfg)
        return {v.op.name: tuple(v.shape.as_list()) for v in tf.global_variables()}


def _z_of_params(params):
    return np.float32(params[2])


def conversion_plan(shapes, prefix="module.", bank=()):
    """``assign_exactly`` plan {project name: (source name, transform, shape)} for the network of ``shapes``, plus
    the memory bank (``lemniscate.memory``) and Z (``lemniscate.params`` [K, T, Z, m]) when named in ``bank``."""
    plan = {name: source_name(name, prefix) + (shape,) for name, shape in shapes.items()}
    if "lemniscate.memory" in bank:
        plan[BANK_NAME] = ("lemniscate.memory", None)
    if "lemniscate.params" in bank:
        plan[Z_NAME] = ("lemniscate.params", _z_of_params, ())
    return plan


def _state_dict(ckpt, path):
    state = ckpt.get("state_dict")
    if not isinstance(state, dict) or not state:
        raise ValueError("%s: no `state_dict` in the checkpoint (keys: %s)" % (path, ", ".join(map(str, ckpt))))
    prefix = "module." if all(k.startswith("module.") for k in state) else ""
    return state, prefix


def _arch(ckpt, state, prefix, path):
    arch = ckpt.get("arch")
    if arch not in RELEASE_ARCHS:
        raise ValueError("%s: arch %r is not one of the release's ResNets (%s)"
                         % (path, arch, ", ".join(RELEASE_ARCHS)))
    fc = state.get(prefix + "fc.weight")
    if fc is None or np.ndim(fc) != 2:
        raise ValueError("%s: no 2-D %sfc.weight in the state_dict" % (path, prefix))
    return arch, int(fc.shape[0])


def _bank_fields(ckpt, path):
    """({source name: array} of the bank, info dict) of the pickled ``lemniscate`` module (absent: no bank)."""
    lem = ckpt.get("lemniscate")
    if lem is None:
        return {}, {"bank_rows": None}
    memory, params = getattr(lem, "memory", None), getattr(lem, "params", None)
    if not isinstance(memory, np.ndarray) or memory.ndim != 2 or params is None:
        raise ValueError("%s: `lemniscate` (%s) has no [N, D] memory buffer and params"
                         % (path, type(lem).__name__))
    params = [float(p) for p in np.asarray(params).ravel()]
    kind = type(lem).__name__
    arrays = {"lemniscate.memory": memory.astype(np.float32)}
    if kind == "NCEAverage" and len(params) == 4:
        info = {"nce_params": dict(zip(("K", "T", "Z", "momentum"), params))}
        arrays["lemniscate.params"] = np.asarray(lem.params, np.float32)
    elif kind == "LinearAverage" and len(params) == 2:
        info = {"nce_params": dict(zip(("T", "momentum"), params))}
    else:
        raise ValueError("%s: `lemniscate` is a %s with params %s; expected NCEAverage [K, T, Z, m] or "
                         "LinearAverage [T, m]" % (path, kind, params))
    info.update(bank_rows=int(memory.shape[0]), bank_class="%s.%s" % (type(lem).__module__, kind))
    return arrays, info


def read_release(path):
    """``(arrays, info)`` of the release checkpoint ``path``: {project variable: ndarray} (network, memory bank in
    the release's row order, Z when the file was trained with NCE) and the file's facts (``arch``, ``low_dim``,
    ``epoch``, ``best_prec1``, ``nce_params``, ``bank_rows``, ``name_map``). Inexact files are one ValueError line."""
    ckpt = load_pth(path)
    state, prefix = _state_dict(ckpt, path)
    arch, low_dim = _arch(ckpt, state, prefix, path)
    bank, info = _bank_fields(ckpt, path)
    source = {k: v for k, v in state.items()}
    source.update(bank)
    plan = conversion_plan(model_shapes(arch, low_dim), prefix, bank)
    ignore = [k for k in state if k.endswith(".num_batches_tracked")]  # PyTorch >= 0.4.1 BN step counters
    try:
        arrays = assign_exactly(source, plan, ignore=ignore)
    except ValueError as e:
        raise ValueError("%s: %s" % (path, e))
    if bank and arrays[BANK_NAME].shape[1] != low_dim:
        raise ValueError("%s: memory bank of dimension %d, the network's fc gives %d"
                         % (path, arrays[BANK_NAME].shape[1], low_dim))
    info.update(arch=arch, low_dim=low_dim, epoch=ckpt.get("epoch"), best_prec1=_plain(ckpt.get("best_prec1")),
                name_map={plan[name][0]: name for name in sorted(plan)})
    return arrays, info


def _plain(value):
    """A JSON-able number of a checkpoint field that may be a 0-d tensor."""
    return None if value is None else float(np.asarray(value))

