"""Device flags and their meaning, the same in every training script.

- no ``--gpu``: every visible GPU, one tower each (logged); the CPU when no GPU is visible;
- ``--gpu ''``: the CPU; ``--cpu_towers N``: N towers on CPU devices (the multi-tower code paths without GPUs);
- ``--gpu 0,1``: those GPUs, which must exist (else one error line naming the ids found);
- ``--logical_gpus N``: each physical GPU is split into N logical GPUs (TensorFlow's virtual devices) and
  ``--gpu`` names logical ids, so ``--gpu 0,1 --logical_gpus 2`` runs two towers on one physical GPU.

``setup_devices(args)`` must run before TensorFlow initialises a device; it returns a ``Towers`` list.
"""
import os
import re
import shutil
import subprocess

from tensorpack import logger

from common import distributed

__all__ = ["TRAINERS", "Towers", "add_device_args", "available_gpus", "gpu_memory_mb", "parse_gpu_ids",
           "setup_devices", "add_virtual_devices"]

TRAINERS = ("replicated", "ps")


class Towers(list):
    """Tower ids (``/gpu:k`` or, ``on_cpu``, ``/cpu:k``); ``logical_gpus`` and ``memory_mb`` describe a GPU split."""

    def __init__(self, ids, on_cpu, logical_gpus=1, memory_mb=None):
        super(Towers, self).__init__(ids)
        self.on_cpu = on_cpu
        self.logical_gpus = logical_gpus
        self.memory_mb = memory_mb


def add_device_args(parser):
    """Add ``--gpu``, ``--cpu_towers``, ``--logical_gpus``, ``--trainer`` and the cluster flags to ``parser``."""
    group = parser.add_argument_group("devices")
    group.add_argument("--gpu", default=None,
                       help="comma-separated GPU ids, e.g. 0,1,2,3 (default: every visible GPU; '' for the CPU)")
    group.add_argument("--cpu_towers", type=int, default=0,
                       help="N > 1: N towers on CPU devices /cpu:0.. (multi-tower code paths without GPUs)")
    group.add_argument("--logical_gpus", type=int, default=1,
                       help="split each physical GPU into N logical GPUs; --gpu then names logical ids")
    group.add_argument("--trainer", default="replicated", choices=TRAINERS,
                       help="several towers: replicated variables (all-reduce) or a parameter server")
    distributed.add_cluster_args(group)
    return parser


def _nvidia_smi(*query):
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ""
    try:
        return subprocess.run([smi] + list(query), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30,
                              universal_newlines=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def available_gpus():
    """Physical GPU ids this process may use, from ``nvidia-smi -L`` (no TF device initialisation), else none."""
    ids = [int(m) for m in re.findall(r"^GPU (\d+):", _nvidia_smi("-L"), re.M)]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        allowed = {int(x) for x in visible.split(",") if x.strip().isdigit()}
        ids = [i for i in ids if i in allowed]
    return ids


def gpu_memory_mb(gpu_id):
    """Total memory of physical GPU ``gpu_id`` in MiB (``nvidia-smi``), or None when unknown."""
    out = _nvidia_smi("--query-gpu=index,memory.total", "--format=csv,noheader,nounits")
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0] == str(gpu_id) and parts[1].isdigit():
            return int(parts[1])
    return None


def parse_gpu_ids(text):
    """``"0,1,3"`` -> ``[0, 1, 3]``; empty -> ``[]``; a one-line ValueError naming ``--gpu`` otherwise."""
    text = (text or "").strip()
    if not text:
        return []
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() for p in parts):
        raise ValueError("--gpu %s: expected comma-separated GPU ids such as 0,1,2,3" % text)
    ids = [int(p) for p in parts]
    if len(set(ids)) != len(ids):
        raise ValueError("--gpu %s: a GPU id is repeated" % text)
    return ids


def _read(args):
    if args is None or isinstance(args, str):
        return args, 0, 1
    return (getattr(args, "gpu", None), getattr(args, "cpu_towers", 0) or 0,
            getattr(args, "logical_gpus", 1) or 1)


def _cpu(cpu_towers, reason):
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    towers = Towers(range(max(cpu_towers, 1)), on_cpu=True)
    logger.info("%s: %d tower(s) on the CPU" % (reason, len(towers)))
    return towers


def setup_devices(args):
    """Make the chosen devices visible and return the ``Towers`` (see the module docstring for the rules).

    ``args`` is the parsed namespace (``gpu``, ``cpu_towers``, ``logical_gpus``) or the ``--gpu`` string.
    """
    gpu, cpu_towers, logical = _read(args)
    if cpu_towers < 0:
        raise ValueError("--cpu_towers %d: must be >= 0" % cpu_towers)
    if logical < 1:
        raise ValueError("--logical_gpus %d: must be >= 1" % logical)
    ids = parse_gpu_ids(gpu)
    if ids and cpu_towers:
        raise ValueError("--gpu %s and --cpu_towers %d: pick one of them" % (gpu, cpu_towers))
    if gpu is not None and not ids:
        return _cpu(cpu_towers, "--gpu ''")
    physical = available_gpus()
    if gpu is None:
        if cpu_towers or not physical:
            return _cpu(cpu_towers, "--cpu_towers" if cpu_towers else "no GPU visible")
        ids = list(range(len(physical) * logical))
        logger.info("no --gpu: every visible GPU (%s), one tower each" % ",".join(map(str, physical)))
    found = ["%d" % k for k in range(len(physical) * logical)] if logical > 1 else [str(p) for p in physical]
    allowed = set(range(len(physical) * logical)) if logical > 1 else set(physical)
    missing = [i for i in ids if i not in allowed]
    if missing:
        what = "%s GPUs %s" % ("logical" if logical > 1 else "", ",".join(found)) if found else "no GPU"
        raise ValueError("--gpu %s: GPU %d does not exist on this machine (found %s; --gpu '' trains on the CPU)"
                         % (",".join(map(str, ids)), missing[0], what.strip()))
    if logical == 1:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, ids))
        return Towers(range(len(ids)), on_cpu=False)
    used = sorted({physical[i // logical] for i in ids})
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, used))
    towers = [used.index(physical[i // logical]) * logical + i % logical for i in ids]
    memory = gpu_memory_mb(used[0])
    per_device = int(memory * 0.9 / logical) if memory else 1024
    logger.info("--logical_gpus %d: GPUs %s split into %d logical GPUs of %d MiB; towers on /gpu:%s"
                % (logical, ",".join(map(str, used)), logical * len(used), per_device,
                   ",".join(map(str, towers))))
    return Towers(towers, on_cpu=False, logical_gpus=logical, memory_mb=per_device)


def add_virtual_devices(config, towers):
    """Put the logical-GPU split of ``towers`` into the session ``config`` (a ``tf.ConfigProto``); returns it."""
    if getattr(towers, "logical_gpus", 1) > 1 and not towers.on_cpu:
        physical = len(os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(","))
        for _ in range(physical):
            device = config.gpu_options.experimental.virtual_devices.add()
            device.memory_limit_mb.extend([towers.memory_mb] * towers.logical_gpus)
    return config
