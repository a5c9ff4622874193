"""Devices for the release's ``--gpu`` flag: synchronous towers on those GPUs, or on the CPU without any GPU."""
import argparse

from tensorpack.utils import logger

from common import train as common_train

__all__ = ["select_towers"]


def select_towers(gpu, gpu_offset):
    """Towers for ``--gpu`` ids from position ``gpu_offset`` on; CPU towers when the machine has no GPU."""
    ids = [str(i) for i in common_train.parse_gpu_ids(str(gpu))][gpu_offset:]
    if not ids:
        raise ValueError("--gpu %r with --gpu_offset %d leaves no device to train on" % (gpu, gpu_offset))
    if common_train.available_gpus():
        return common_train.setup_devices(",".join(ids))
    logger.warn("--gpu %s: this machine has no GPU; training %d tower(s) on the CPU" % (gpu, len(ids)))
    return common_train.setup_devices(argparse.Namespace(gpu="", cpu_towers=len(ids) if len(ids) > 1 else 0))
