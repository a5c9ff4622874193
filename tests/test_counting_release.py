"""The counting release's phase-1 checkpoint in the project (``counting/release.py``): a slim-named checkpoint
written by a release-style graph converts exactly (conv5 within 1e-4 of the release network's), a swapped pair
of same-shaped tensors breaks the equivalence, bad sources are one-line errors, ``classifier_trn.py
--pretrained`` reads the release's own file, and the validation input matches numpy."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from common.models.registry import get_model
from common.tf1 import tf
from common.weights.tf_checkpoint import read_checkpoint, write_checkpoint
from counting import release
from counting.conv_restore import ConvWeightsInit
from counting.flags import DEFAULT_CONFIG
from tests.weight_edits import swapper

sys.path.insert(0, os.path.dirname(__file__))
from counting_release_writer import write_phase1_checkpoint  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = np.random.RandomState(2).normal(0, 1, (3, 64, 64, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def phase1(tmp_path_factory):
    folder = tmp_path_factory.mktemp("counting_release")
    return write_phase1_checkpoint(str(folder), IMAGES)


def _conv5(model_dir, info):
    with release.feature_extractor(model_dir, info) as fn:
        return fn(IMAGES)


def test_phase1_checkpoint_converts_exactly(phase1, tmp_path):
    prefix, expected = phase1
    info = release.convert(os.path.dirname(prefix), str(tmp_path))  # the experiment directory
    got = _conv5(str(tmp_path), info)
    assert got.shape == (3, 4 * 4 * 256)
    assert np.abs(got - expected).max() < 1e-4
    assert info["logits_dim"] == 128
    assert info["name_map"]["alexnet_v2/fully_connected_1/weights"] == "alexnet_v2/fc_7/W"
    converted = read_checkpoint(os.path.join(str(tmp_path), release.CHECKPOINT_NAME))
    source = read_checkpoint(prefix)
    assert len(converted) == 16 and not any("Adam" in n or "power" in n for n in converted)
    np.testing.assert_array_equal(converted["alexnet_v2/fc_6/W"], source["alexnet_v2/fully_connected/weights"])


def _edited(prefix, folder, edit):
    arrays = read_checkpoint(prefix)
    edit(arrays)
    return write_checkpoint(arrays, os.path.join(str(folder), "edited-1"))


def test_swapped_tensors_break_equivalence(phase1, tmp_path):
    prefix, expected = phase1
    swap = swapper("alexnet_v2/conv3/biases", "alexnet_v2/conv4/biases")
    info = release.convert(_edited(prefix, tmp_path, swap), str(tmp_path / "out"))
    assert np.abs(_conv5(str(tmp_path / "out"), info) - expected).max() > 1e-4


@pytest.mark.parametrize("edit, message", [
    (lambda a: a.update({"alexnet_v2/conv6/weights": np.zeros(3, np.float32)}), "alexnet_v2/conv6/weights"),
    (lambda a: a.pop("alexnet_v2/conv2/biases"), "alexnet_v2/conv2/biases"),
    (lambda a: a.update({"alexnet_v2/conv5/biases": np.zeros(5, np.float32)}), "alexnet_v2/conv5/b"),
])
def test_bad_sources_are_refused(phase1, tmp_path, edit, message):
    with pytest.raises(ValueError, match=message):
        release.convert(_edited(phase1[0], tmp_path, edit), str(tmp_path / "out"))


def test_missing_source_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        release.convert(str(tmp_path / "model-1"), str(tmp_path / "out"))


def test_conv_restore_reads_slim_names(phase1):
    prefix = phase1[0]
    with tf.Graph().as_default():
        get_model("alexnet_counting")(tf.zeros([1, 64, 64, 3]), False)
        init = ConvWeightsInit(prefix)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            init._setup_graph()
            init._run_init(sess)
            got = {v.op.name: sess.run(v) for v in tf.global_variables()}
    assert len(got) == 10
    for name, value in got.items():
        np.testing.assert_array_equal(value, tf.train.load_variable(prefix, release.slim_name(name)))


@pytest.mark.slow
def test_classifier_trn_pretrained_from_the_release_checkpoint(phase1, toy_record_dir, tmp_path):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"tiny": {"base": DEFAULT_CONFIG, "image_size": 96, "resize_size": 96,
                                           "pool_sizes": [6, 3, 2, 2, 2]}}))
    logdir = str(tmp_path / "cls")
    cmd = [sys.executable, os.path.join("counting", "classifier_trn.py"), "--exp_name", "cls", "--pretrained",
           "--cnt_exp_name", os.path.dirname(phase1[0]), "--learning_rate_var_name", "lr_cls", "--logdir", logdir,
           "--config", str(config) + ":tiny", "--data_dir", toy_record_dir, "--batch_size", "4", "--epoch", "1",
           "--gpu", "", "--cpu_towers", "1", "--reader", "tfdata"]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    assert proc.returncode == 0, proc.stdout[-3000:]
    saved = tf.train.latest_checkpoint(logdir)
    for k in range(1, 6):  # the frozen convs are the release's, read through its slim names
        np.testing.assert_array_equal(tf.train.load_variable(saved, "alexnet_v2/conv%d/W" % k),
                                      tf.train.load_variable(phase1[0], "alexnet_v2/conv%d/weights" % k))


def test_preprocess_is_the_release_validation_input(tmp_path):
    pixels = np.random.RandomState(0).randint(0, 256, (256, 256, 3)).astype(np.uint8)
    path = str(tmp_path / "img.png")
    Image.fromarray(pixels).save(path)
    got = release.preprocess(path)
    mean, std = np.array(release.INPUT["mean"]), np.array(release.INPUT["std"])
    assert got.shape == (256, 256, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, (pixels / 255.0 - mean) / std, atol=1e-4)


def test_zoo_tool_on_a_checkpoint_prefix(phase1, tmp_path):
    from zoo.convert import convert
    from zoo.features import extract
    meta = convert("counting", phase1[0], str(tmp_path / "D"))
    assert (meta["release"], meta["source"], meta["architecture"]) == ("counting", "model-1251", "alexnet_counting")
    np.save(str(tmp_path / "X.npy"), IMAGES)
    with pytest.raises(ValueError, match="256"):  # the release's phase-2 input size
        extract(str(tmp_path / "D"), str(tmp_path / "X.npy"), str(tmp_path / "f.npy"))
    inputs = np.random.RandomState(5).normal(0, 1, (2, 256, 256, 3)).astype(np.float32)
    np.save(str(tmp_path / "X.npy"), inputs)
    extract(str(tmp_path / "D"), str(tmp_path / "X.npy"), str(tmp_path / "f.npy"))
    assert np.load(str(tmp_path / "f.npy")).shape == (2, 16 * 16 * 256)
