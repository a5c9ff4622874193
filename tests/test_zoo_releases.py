"""``python -m zoo convert`` then ``zoo features`` on files written as each release writes them (random weights,
full architectures), against the release-style network's own output for the same network input (.npy)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from common import cli
from zoo import commands

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow


def zoo(argv):
    """Run ``python -m zoo argv`` in this process; fails the test on a non-zero status."""
    with pytest.raises(SystemExit) as done:
        cli.run(commands.main, argv)
    assert done.value.code == 0


def convert_and_extract(release, src, inputs, tmp_path):
    """(zoo.json, features) of ``inputs`` (saved as the .npy network input) under ``src`` converted by ``release``."""
    model_dir, npy, out = str(tmp_path / "model"), str(tmp_path / "inputs.npy"), str(tmp_path / "feats.npy")
    np.save(npy, inputs)
    zoo(["convert", release, src, "--out", model_dir])
    zoo(["features", model_dir, npy, "--out", out, "--batch", "1"])
    with open(os.path.join(model_dir, "zoo.json")) as f:
        return json.load(f), np.load(out)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_lemniscate(tmp_path, monkeypatch, zip_format):
    pytest.importorskip("torch", reason="PyTorch is optional: `make setup-zoo` adds it (writes the .pth files)")
    from tests import lemniscate_release as writer
    writer.install_release_modules(monkeypatch)
    src = str(tmp_path / "lemniscate_resnet18.pth.tar")
    model, _ = writer.save_release_checkpoint(src, "resnet18", 30, zip_format=zip_format)
    inputs = np.random.RandomState(0).normal(0, 1, (2, 3, 224, 224)).astype(np.float32)  # NCHW, as PyTorch takes
    meta, feats = convert_and_extract("lemniscate", src, inputs, tmp_path)
    assert meta["release"] == "lemniscate" and meta["source"] == "lemniscate_resnet18.pth.tar"
    assert np.abs(feats - writer.torch_embedding(model, inputs)).max() < 1e-4


def test_revisiting(tmp_path):
    from tests import revisiting_hub_writer as writer
    module = writer.write_hub_module(str(tmp_path / "module"))
    src = writer.tar_module(module, str(tmp_path / "rotation_module.tar.gz"))
    inputs = np.random.RandomState(1).uniform(-1, 1, (2, 224, 224, 3)).astype(np.float32)
    meta, feats = convert_and_extract("revisiting", src, inputs, tmp_path)
    assert meta["source"] == "rotation_module.tar.gz"
    want = writer.release_representation(module, inputs)
    assert np.abs(feats - want.reshape(len(inputs), -1)).max() < 1e-4


def test_classification_seed(tmp_path):
    src, npy, probs = str(tmp_path / "ocd-ResNetV2-50.h5"), str(tmp_path / "in.npy"), str(tmp_path / "out.npy")
    inputs = np.random.RandomState(2).normal(0, 1, (2, 224, 224, 3)).astype(np.float32)  # normalised BGR
    np.save(npy, inputs)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "seed_keras_writer.py"), src, "--seed", "5",
                           "--input", npy, "--output", probs], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta, feats = convert_and_extract("classification-seed", src, inputs, tmp_path)
    assert feats.shape == (2, 1000) and meta["release"] == "classification-seed"
    assert np.abs(feats - np.load(probs)).max() < 1e-4
