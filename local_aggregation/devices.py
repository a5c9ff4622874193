"""Devices for the release's ``--gpu`` flag: synchronous towers on those GPUs, or on the CPU without any GPU."""
import argparse

from tensorpack.utils import logger

from common.train import setup_devices

__all__ = ["select_towers"]


def select_towers(gpu, gpu_offset):
    """Towers for ``--gpu`` ids from position ``gpu_offset`` on; CPU towers when the machine has no GPU."""
    ids = [p.strip() for p in str(gpu).split(",") if p.strip()][gpu_offset:]
    if not ids:
        raise ValueError("--gpu %r with --gpu_offset %d leaves no device to train on" % (gpu, gpu_offset))
    try:
        return setup_devices(",".join(ids))
    except ValueError as e:
        if "found no GPU" not in str(e):
            raise
    logger.warn("--gpu %s: this machine has no GPU; training %d tower(s) on the CPU" % (gpu, len(ids)))
    return setup_devices(argparse.Namespace(gpu="", cpu_towers=len(ids) if len(ids) > 1 else 0))
