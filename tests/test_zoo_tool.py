"""The zoo tool (python -m zoo) with a tiny fake release: list, convert (zoo.json, refusals), features (images in
sorted order, batching, .npy input checked against the input convention), the directory hash."""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import papers
from common import cli
from tests import zoo_fake_release as fake
from zoo import commands
from zoo.source_hash import source_sha256

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIM = 5


@pytest.fixture
def zoo(monkeypatch):
    monkeypatch.setattr(papers, "release_modules", lambda: {"fake": fake})


@pytest.fixture
def published(tmp_path):
    weight = np.random.RandomState(0).randn(DIM, 8 * 8 * 3).astype(np.float32)
    path = str(tmp_path / "fake.npz")
    np.savez(path, weight=weight, step=np.array(3))
    return path, weight


def zoo_cli(argv, capsys):
    """(exit status, stdout, stderr) of ``python -m zoo argv`` run in this process."""
    with pytest.raises(SystemExit) as done:
        cli.run(commands.main, argv)
    out, err = capsys.readouterr()
    return done.value.code, out, err


def test_list_shows_every_model(zoo, capsys):
    status, out, _ = zoo_cli(["list"], capsys)
    lines = out.strip().splitlines()
    assert status == 0 and lines[0] == "| release | model | file | format | reported | protocol | command |"
    assert lines[2] == ("| fake | linear-8px | fake.npz | numpy .npz | 12.3% top-1 | kNN k=200 | "
                        "python -m zoo features DIR IMAGES --out f.npy |")


def test_convert_writes_checkpoint_and_zoo_json(zoo, published, tmp_path, capsys):
    src, weight = published
    out_dir = str(tmp_path / "model")
    status, out, _ = zoo_cli(["convert", "fake", src, "--out", out_dir], capsys)
    assert status == 0 and "zoo convert: fake fake.npz" in out
    meta = json.load(open(os.path.join(out_dir, "zoo.json")))
    assert meta["release"] == "fake" and meta["source"] == "fake.npz"
    assert meta["sha256"] == hashlib.sha256(open(src, "rb").read()).hexdigest()
    assert meta["name_map"] == {"weight": "embed/W"} and meta["input"]["layout"] == "NHWC"
    from common.weights.tf_checkpoint import read_checkpoint
    np.testing.assert_array_equal(read_checkpoint(os.path.join(out_dir, "model"))["embed/W"], weight.T)
    assert [n for n in os.listdir(str(tmp_path)) if n.startswith(".zoo")] == []
    assert zoo_cli(["convert", "fake", src, "--out", out_dir], capsys)[0] == 0  # the same model again: fine


def test_convert_refusals(zoo, published, tmp_path, capsys):
    src, _ = published
    out_dir = str(tmp_path / "model")
    status, _, err = zoo_cli(["convert", "lemniscatte", src, "--out", out_dir], capsys)
    assert status == 2 and err == "error: unknown release 'lemniscatte'; known: fake\n"
    assert zoo_cli(["convert", "fake", src, "--out", out_dir], capsys)[0] == 0
    other = str(tmp_path / "other.npz")
    np.savez(other, weight=np.ones((DIM, 192), np.float32), step=np.array(1))
    status, _, err = zoo_cli(["convert", "fake", other, "--out", out_dir], capsys)
    assert status == 2 and "holds another model (fake fake.npz)" in err and err.count("\n") == 1
    assert json.load(open(os.path.join(out_dir, "zoo.json")))["source"] == "fake.npz"  # not overwritten
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    status, _, err = zoo_cli(["convert", "fake", src, "--out", str(busy)], capsys)
    assert status == 2 and "not a zoo model directory" in err and (busy / "notes.txt").exists()
    bad = str(tmp_path / "bad.npz")
    np.savez(bad, weight=np.ones((DIM, 192), np.float32), step=np.array(1), extra=np.ones(2))
    status, _, err = zoo_cli(["convert", "fake", bad, "--out", str(tmp_path / "m2")], capsys)
    assert status == 2 and "extra is neither used nor ignored" in err and not (tmp_path / "m2").exists()
    assert zoo_cli(["convert", "fake", str(tmp_path / "none.npz"), "--out", str(tmp_path / "m3")],
                   capsys)[2] == "error: SRC %s: no such file or directory\n" % (tmp_path / "none.npz")


def _images(folder, n, rng):
    """``n`` random 8x8 PNGs named so that sorted order differs from creation order; returns them in sorted
    file-name order as [n, 8, 8, 3] in [0, 1]."""
    os.makedirs(folder)
    names = ["img_%02d.png" % ((3 * k) % n) for k in range(n)]  # a permutation: n not a multiple of 3
    pixels = {}
    for name in names:
        pixels[name] = rng.randint(0, 256, (8, 8, 3)).astype(np.uint8)
        Image.fromarray(pixels[name]).save(os.path.join(folder, name))
    open(os.path.join(folder, "README.txt"), "w").write("not an image")
    return np.stack([pixels[n] for n in sorted(names)]).astype(np.float32) / 255.0


def test_features_from_images_and_npy(zoo, published, tmp_path, capsys):
    src, weight = published
    out_dir = str(tmp_path / "model")
    zoo_cli(["convert", "fake", src, "--out", out_dir], capsys)
    images = _images(str(tmp_path / "images"), 7, np.random.RandomState(1))
    feats_path = str(tmp_path / "feats.npy")
    status, out, _ = zoo_cli(["features", out_dir, str(tmp_path / "images"), "--out", feats_path, "--batch", "3"],
                             capsys)
    assert status == 0 and "zoo features: 7 images, dim %d," % DIM in out
    np.testing.assert_allclose(np.load(feats_path), fake.reference(images, weight), atol=1e-5)
    nested = _images(str(tmp_path / "tree" / "b"), 4, np.random.RandomState(2))  # class/file folders
    first = _images(str(tmp_path / "tree" / "a"), 2, np.random.RandomState(3))
    zoo_cli(["features", out_dir, str(tmp_path / "tree"), "--out", feats_path], capsys)
    np.testing.assert_allclose(np.load(feats_path), fake.reference(np.concatenate([first, nested]), weight),
                               atol=1e-5)

    npy = str(tmp_path / "input.npy")
    np.save(npy, images[::-1].copy())
    zoo_cli(["features", out_dir, npy, "--out", feats_path, "--batch", "4"], capsys)
    np.testing.assert_allclose(np.load(feats_path), fake.reference(images[::-1], weight), atol=1e-5)

    np.save(npy, images.transpose(0, 3, 1, 2).copy())  # NCHW given to an NHWC model
    status, _, err = zoo_cli(["features", out_dir, npy, "--out", feats_path], capsys)
    assert status == 2 and err == ("error: INPUT %s: a float32 array of shape [7, 3, 8, 8]; the model takes "
                                   "float32 NHWC [n, 8, 8, 3]\n" % npy)
    np.save(npy, images.astype(np.float64))
    assert "a float64 array" in zoo_cli(["features", out_dir, npy, "--out", feats_path], capsys)[2]
    status, _, err = zoo_cli(["features", str(tmp_path), npy, "--out", feats_path], capsys)
    assert status == 2 and "zoo.json: not found" in err


def test_directory_hash_follows_its_definition(tmp_path):
    root = tmp_path / "module"
    (root / "variables").mkdir(parents=True)
    files = {"saved_model.pb": b"graph", "tfhub_module.pb": b"\x08\x03", "variables/variables.index": b"idx"}
    for rel, data in files.items():
        (root / rel).write_bytes(data)
    text = "".join("%s  %s\n" % (hashlib.sha256(files[rel]).hexdigest(), rel) for rel in sorted(files))
    assert source_sha256(str(root)) == hashlib.sha256(text.encode()).hexdigest()
    (root / "variables" / "variables.index").write_bytes(b"idx2")
    assert source_sha256(str(root)) != hashlib.sha256(text.encode()).hexdigest()


def test_real_registry_and_entry_point():
    for name, module in papers.release_modules().items():
        assert module.RELEASE == name and name in ("lemniscate", "la", "revisiting", "classification-seed",
                                                   "counting")
    proc = subprocess.run([sys.executable, "-m", "zoo", "list"], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("| release | model | file | format | reported | protocol | command |")
    proc = subprocess.run([sys.executable, "-m", "zoo", "convert"], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "error: the following arguments are required: RELEASE, SRC, --out"
