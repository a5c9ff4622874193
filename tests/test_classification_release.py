"""The classification release's Keras ``.h5`` (``save_weights`` of its ResNetV2-50) in the project: exact
conversion, equivalence with the release-style Keras model (run in its own process, Keras 2 eager), refusal of
damaged files, and ``classification/test.py --checkpoint X.h5 --classes FILE`` scored by class id."""
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from classification import release, test
from classification.class_order import labels_to_outputs, read_class_order
from classification.eval_data import RecordImages, image_views
from classification.recipe import EvalView
from common import cli
from common.data.records import read_meta
from common.weights.tf_checkpoint import read_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRITER = os.path.join(ROOT, "tests", "seed_keras_writer.py")
CONFIG = "exp_configs/classification.json:ilsvrc_resnet50_v2"


def keras(h5, images=None, seed=0, load=False, tmp=None):
    """Write (or with ``load`` read) ``h5`` in a Keras process; the model's softmax of ``images`` if given."""
    cmd = [sys.executable, WRITER, h5, "--seed", str(seed)] + (["--load"] if load else [])
    if images is not None:
        np.save(os.path.join(tmp, "in.npy"), images)
        cmd += ["--input", os.path.join(tmp, "in.npy"), "--output", os.path.join(tmp, "out.npy")]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return None if images is None else np.load(os.path.join(tmp, "out.npy"))


@pytest.fixture(scope="module")
def seed_h5(tmp_path_factory):
    """(h5 path, input batch, the Keras model's softmax of it)."""
    tmp = str(tmp_path_factory.mktemp("seed"))
    images = np.random.RandomState(0).normal(0, 1, (2, 224, 224, 3)).astype(np.float32)
    h5 = os.path.join(tmp, "ocd-ResNetV2-50.h5")
    return h5, images, keras(h5, images, seed=3, tmp=tmp)


def _features(out_dir, images):
    with release.feature_extractor(out_dir) as fn:
        return fn(images)


def test_seed_h5_converts_exactly(seed_h5, tmp_path):
    h5, images, ref = seed_h5
    info = release.convert(h5, str(tmp_path / "out"))
    converted = read_checkpoint(str(tmp_path / "out" / release.CHECKPOINT))
    assert len(info["name_map"]) == len(converted) == 250 and info["num_classes"] == 1000
    assert info["name_map"]["conv2_0/conv2_0/conv2d_10/kernel:0"] == "group1/block0/convshortcut/W"
    assert info["name_map"]["conv1_1/conv1_1/batch_normalization_3/moving_mean:0"] == "group0/block1/preact/bn/mean/EMA"
    with h5py.File(h5, "r") as f:
        np.testing.assert_array_equal(converted["conv0/W"], f["conv0"]["conv0/kernel:0"][()][:, :, ::-1])
        np.testing.assert_array_equal(converted["bnlast/bn/variance/EMA"], f["bn"]["bn/moving_variance:0"][()])
    got = _features(str(tmp_path / "out"), images)
    assert got.shape == (2, 1000) and ref.max() > 0.01
    assert np.abs(got - ref).max() < 1e-4


def _swap(h5, a, b):
    with h5py.File(h5, "r+") as f:
        first, second = f[a][()], f[b][()]
        assert first.shape == second.shape
        f[a][...], f[b][...] = second, first


def test_swapped_same_shape_tensors_fail_the_equivalence(seed_h5, tmp_path):
    h5, images, ref = seed_h5
    swapped = str(tmp_path / "swapped.h5")
    shutil.copy(h5, swapped)
    _swap(swapped, "conv3_1/conv3_1/conv2d_27/kernel:0", "conv3_2/conv3_2/conv2d_30/kernel:0")
    release.convert(swapped, str(tmp_path / "out"))
    assert np.abs(_features(str(tmp_path / "out"), images) - ref).max() > 1e-3


def test_damaged_files_are_one_error(seed_h5, tmp_path):
    h5 = seed_h5[0]
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        release.convert(str(text), str(tmp_path / "a"))
    short = str(tmp_path / "short.h5")
    shutil.copy(h5, short)
    with h5py.File(short, "r+") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
        f.attrs["layer_names"] = [n.encode() for n in names if n != "conv4_2"]
    with pytest.raises(ValueError, match="conv4_2"):
        release.convert(short, str(tmp_path / "b"))
    extra = str(tmp_path / "extra.h5")
    shutil.copy(h5, extra)
    with h5py.File(extra, "r+") as f:
        f["fully_connected"].create_dataset("fully_connected/bias:0", data=np.zeros(1000, np.float32))
        f["fully_connected"].attrs["weight_names"] = [b"fully_connected/kernel:0", b"fully_connected/bias:0"]
    with pytest.raises(ValueError, match="fully_connected/bias:0 is neither used nor ignored"):
        release.convert(extra, str(tmp_path / "c"))


def test_class_order_maps_labels_by_id(tmp_path):
    names = ["n3", "n1", "n2"]
    assert read_class_order("sorted", names) == ["n1", "n2", "n3"]
    order = tmp_path / "order.txt"
    order.write_text("x9\nn2\n\nn3\nn1\n")
    np.testing.assert_array_equal(labels_to_outputs(read_class_order(str(order), names), names, 4), [2, 3, 1])
    with pytest.raises(ValueError, match="5 outputs"):
        labels_to_outputs(read_class_order(str(order), names), names, 5)
    with pytest.raises(ValueError, match="does not cover 1 of the records' classes \\(first: n4\\)"):
        labels_to_outputs(["n1", "n2", "n3"], names + ["n4"], 3)
    order.write_text("n1\nn1\n")
    with pytest.raises(ValueError, match="n1 appears twice"):
        read_class_order(str(order), names)


@pytest.mark.slow
def test_test_script_scores_the_h5_by_class_id(seed_h5, toy_record_dir, tmp_path, capsys):
    """test.py on 2 toy images (10 crops each, through the 1000-class model) against the Keras model's softmax of
    the same views; the class order puts each image's label at the model's best 10-crop class."""
    h5 = seed_h5[0]
    view = EvalView(224, 256, "bilinear", "floor", None, None)  # the release's test geometry (views stay uint8)
    data = list(RecordImages(toy_record_dir, "validation", 2))
    views = np.stack([image_views(image, view, 10) for image, _, _ in data]).astype(np.float32)
    bgr = (views[..., ::-1] - np.float32(release.MEAN_BGR)) / np.float32(release.STD_BGR)
    probs = keras(h5, bgr.reshape((-1, 224, 224, 3)), load=True, tmp=str(tmp_path)).reshape(2, 10, 1000)
    names = read_meta(toy_record_dir)["class_names"]
    order = ["x%04d" % i for i in range(1000)]
    best = probs[0].mean(0).argmax()
    order[best] = names[data[0][1]]
    for i, name in enumerate(n for n in names if n != names[data[0][1]]):
        order[(best + 1 + i) % 1000] = name
    label_out = labels_to_outputs(order, names, 1000)[[d[1] for d in data]]
    (tmp_path / "order.txt").write_text("\n".join(order))
    out = str(tmp_path / "results.json")
    argv = ["--config", CONFIG, "--data", toy_record_dir, "--checkpoint", h5, "--classes", str(tmp_path / "order.txt"),
            "--limit", "2", "--batch", "2", "--out", out, "--gpu", ""]
    assert test.main(argv) == 0
    with open(out) as f:
        results = json.load(f)["models"][0]
    assert results["checkpoint"] == h5
    assert results["10-crop"]["top1"] == np.mean(probs.mean(1).argmax(1) != label_out) <= 0.5
    assert results["1-crop"]["top1"] == np.mean(probs[:, 4].argmax(1) != label_out)
    order[best] = "x%04d" % best
    (tmp_path / "order.txt").write_text("\n".join(order))
    with pytest.raises(SystemExit):
        cli.run(test.main, argv)
    assert "does not cover 1 of the records' classes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.run(test.main, argv + ["--set", "model=se_resnet50"])
    assert "convert into resnet50_v2_seed only" in capsys.readouterr().err
