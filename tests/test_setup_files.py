"""Set-up without DALI's TensorFlow plugin (tf.data fallback), and the install files' pins and ignore rules."""
import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from common.data import input as data_input
from common.data.augment import AugmentConfig
from common.tf1 import tf

ROOT = Path(__file__).resolve().parent.parent
RAW = AugmentConfig(size=96, crop="none", normalize=False)


def first_batch(record_dir, reader):
    with tf.Graph().as_default():
        ds = data_input.make_dataset(record_dir, "validation", 8, RAW, reader=reader, device="gpu")
        it = tf.data.make_initializable_iterator(ds)
        nxt = it.get_next()
        with tf.Session() as sess:
            sess.run(it.initializer)
            return sess.run(nxt)


def test_dali_reader_falls_back_to_tfdata_with_one_warning(toy_record_dir, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "nvidia.dali.plugin.tf", None)  # makes the import raise ImportError
    data_input.dali_available.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger=data_input.__name__):
            got = [first_batch(toy_record_dir, "dali") for _ in range(2)]
        assert data_input.dali_available() is False
    finally:
        data_input.dali_available.cache_clear()
    want = first_batch(toy_record_dir, "tfdata")
    for batch in got:
        for a, b in zip(batch, want):
            np.testing.assert_array_equal(a, b)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "tf.data reader" in warnings[0], warnings


def make_value(expr):
    """``expr`` as the Makefile's recipes expand it (shell substitutions run), with this interpreter as PY."""
    rule = 'show-value: ; @echo "%s"' % expr
    return subprocess.run(["make", "-s", "-C", str(ROOT), "--eval", rule, "show-value", "PY=" + sys.executable],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_plugin_build_gets_tensorflows_cuda_headers():
    plugin = make_value("$(DALI_TF_PLUGIN)")
    assert plugin.split("==")[1] == pins("requirements.txt")["nvidia-dali-cuda120"]
    include = Path(make_value("$(TF_CUDA_INCLUDE)"))
    assert (include / "cuda_runtime_api.h").is_file(), include
    assert str(include).startswith(sys.prefix + "/"), include  # inside the virtualenv, no system path


def pins(name):
    lines = (ROOT / name).read_text().splitlines()
    return dict(re.match(r"([\w\-\[\]]+)==(\S+)", ln).groups() for ln in lines if ln and not ln.startswith("#"))


def test_gpu_requirements_match_the_cpu_stack():
    cpu, gpu = pins("requirements.txt"), pins("requirements-gpu.txt")
    assert gpu["tensorflow[and-cuda]"] == cpu["tensorflow"]
    assert gpu["nvidia-dali-cuda120"] == cpu["nvidia-dali-cuda120"]
    assert "faiss-gpu-cu12" in gpu and "faiss-cpu" in cpu


def test_dockerignore_keeps_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".git", "data", "train_log*", "train_logs", ".gpu", "gpu_check_out"} <= ignored


def test_tf115_stack_is_fully_pinned_and_consistent():
    tf115 = pins("requirements-tf115.txt")
    lines = [ln for ln in (ROOT / "requirements-tf115.txt").read_text().splitlines() if ln and ln[0] != "#"]
    assert len(tf115) == len(lines)  # every requirement is an exact pin
    assert tf115["tensorflow-gpu"] == "1.15.5" and tf115["tensorpack"] == pins("requirements.txt")["tensorpack"]
    assert tuple(int(v) for v in tf115["numpy"].split(".")[:2]) < (1, 19)  # tensorflow-gpu 1.15.5: numpy<1.19
    assert tf115["protobuf"].startswith("3.") and tf115["h5py"] == "2.10.0"
    dockerfile = (ROOT / "docker" / "Dockerfile.cuda10").read_text()
    assert "nvidia/cuda:10.0-cudnn7-devel-ubuntu18.04" in dockerfile and "python3.7 -m venv" in dockerfile
