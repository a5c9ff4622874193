"""Device semantics (common/devices.py): no --gpu = every visible GPU, --gpu '' = CPU, --logical_gpus splits."""
import argparse
import os

import pytest

from common import devices, train
from common.tf1 import tf


def _args(gpu=None, cpu_towers=0, logical_gpus=1):
    return argparse.Namespace(gpu=gpu, cpu_towers=cpu_towers, logical_gpus=logical_gpus)


@pytest.fixture(autouse=True)
def _keep_visible_devices():
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    yield
    if before is None:
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    else:
        os.environ["CUDA_VISIBLE_DEVICES"] = before


def test_no_gpu_flag_means_every_visible_gpu(monkeypatch):
    monkeypatch.setattr(devices, "available_gpus", lambda: [0, 1, 2])
    towers = devices.setup_devices(_args())
    assert towers == [0, 1, 2] and not towers.on_cpu and os.environ["CUDA_VISIBLE_DEVICES"] == "0,1,2"


def test_cpu_when_no_gpu_visible_or_gpu_empty(monkeypatch):
    monkeypatch.setattr(devices, "available_gpus", lambda: [])
    towers = devices.setup_devices(_args())
    assert towers == [0] and towers.on_cpu and os.environ["CUDA_VISIBLE_DEVICES"] == ""
    monkeypatch.setattr(devices, "available_gpus", lambda: [0, 1])
    towers = devices.setup_devices(_args(gpu=""))
    assert towers == [0] and towers.on_cpu
    towers = devices.setup_devices(_args(cpu_towers=3))
    assert towers == [0, 1, 2] and towers.on_cpu


def test_named_gpus_must_exist(monkeypatch):
    monkeypatch.setattr(devices, "available_gpus", lambda: [0, 1, 2, 3])
    assert devices.setup_devices(_args(gpu="1,3")) == [0, 1] and os.environ["CUDA_VISIBLE_DEVICES"] == "1,3"
    with pytest.raises(ValueError, match=r"--gpu 0,4: GPU 4 does not exist on this machine \(found GPUs 0,1,2,3"):
        devices.setup_devices("0,4")
    with pytest.raises(ValueError, match="--gpu a,b"):
        devices.setup_devices("a,b")
    with pytest.raises(ValueError, match="repeated"):
        devices.setup_devices("1,1")
    with pytest.raises(ValueError, match="pick one"):
        devices.setup_devices(_args(gpu="0", cpu_towers=2))
    monkeypatch.setattr(devices, "available_gpus", lambda: [])
    with pytest.raises(ValueError, match="found no GPU"):
        devices.setup_devices("0")


def test_logical_gpus_split_one_card(monkeypatch):
    monkeypatch.setattr(devices, "available_gpus", lambda: [0])
    monkeypatch.setattr(devices, "gpu_memory_mb", lambda i: 80000)
    towers = devices.setup_devices(_args(gpu="0,1", logical_gpus=2))
    assert towers == [0, 1] and towers.logical_gpus == 2 and towers.memory_mb == 36000
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
    config = devices.add_virtual_devices(tf.ConfigProto(), towers)
    assert [list(d.memory_limit_mb) for d in config.gpu_options.experimental.virtual_devices] == [[36000, 36000]]
    with pytest.raises(ValueError, match="GPU 2 does not exist.*logical GPUs 0,1"):
        devices.setup_devices(_args(gpu="0,2", logical_gpus=2))
    assert devices.setup_devices(_args(logical_gpus=2)) == [0, 1]


def test_logical_ids_map_to_their_physical_gpu(monkeypatch):
    monkeypatch.setattr(devices, "available_gpus", lambda: [0, 1])
    monkeypatch.setattr(devices, "gpu_memory_mb", lambda i: None)
    towers = devices.setup_devices(_args(gpu="3", logical_gpus=2))  # logical 3 = physical 1, second half
    assert towers == [1] and os.environ["CUDA_VISIBLE_DEVICES"] == "1"


def test_flags_and_defaults():
    parser = devices.add_device_args(argparse.ArgumentParser())
    args = parser.parse_args([])
    assert (args.gpu, args.cpu_towers, args.logical_gpus, args.trainer) == (None, 0, 1, "replicated")
    assert args.job_name == "" and args.task_index is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--trainer", "nccl"])


def test_batch_split():
    assert train.per_tower_batch(256, [0, 1, 2, 3]) == 64
    with pytest.raises(ValueError, match="--batch 10: must be a positive multiple of the 3 tower"):
        train.per_tower_batch(10, [0, 1, 2])


def test_gpu_device_names_map_to_cpu():
    class Op(object):
        def __init__(self, device):
            self.device = device
    assert train._gpu_to_cpu(Op("/device:GPU:3")) == "/device:CPU:3"
    assert train._gpu_to_cpu(Op("/job:worker/task:1/device:GPU:0")) == "/job:worker/task:1/device:CPU:0"
    assert train._gpu_to_cpu(Op("/gpu:2")) == "/device:CPU:2"
    assert train._gpu_to_cpu(Op("")) == ""
