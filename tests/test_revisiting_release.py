"""The revisiting release's TF1 Hub modules in the project: exact conversion, equivalence with the release-style
graph (the module's own untagged graph run as ``hub.Module`` would), refusal of damaged modules, and
``--task linear_eval --hub_module`` on a published-format module."""
import json
import os
import shutil

import numpy as np
import pytest

from common.weights.tf_checkpoint import read_checkpoint, write_checkpoint
from revisiting import release, train_and_eval
from revisiting.hub_module import is_hub_module, meta_graphs
from tests.weight_edits import swapper
from tests.revisiting_hub_writer import (release_representation, release_revnet50, release_vgg19, tar_module,
                                         write_hub_module)

CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "exp_configs", "revisiting.json")


def _max_diff(module_dir, out_dir, images):
    ref = release_representation(module_dir, images).reshape(len(images), -1)
    with release.feature_extractor(out_dir) as features:
        got = features(images)
    assert ref.shape == got.shape
    assert np.abs(ref).max() > 0.05  # a non-trivial representation
    return float(np.abs(ref - got).max())


@pytest.fixture(scope="module")
def rotation_v2(tmp_path_factory):
    """ResNet50 v2 x4 rotation module (4 logits, 224 input), as the release exports it."""
    return write_hub_module(str(tmp_path_factory.mktemp("rv") / "module"), seed=1, mode="v2")


def test_module_has_the_release_format(rotation_v2):
    graphs = meta_graphs(rotation_v2)
    assert set(graphs) == {frozenset(), frozenset(["is_training"])}
    for meta in graphs.values():
        assert set(meta.signature_def) == {"default", "representation"}
        assert set(meta.signature_def["representation"].outputs) == {
            "after_root", "block1", "block2", "block3", "block4", "pre_logits", "logits"}
    assert is_hub_module(rotation_v2)


def test_rotation_resnet50_v2_converts_exactly(rotation_v2, tmp_path):
    out = str(tmp_path / "converted")
    info = release.convert(rotation_v2, out)
    spec = info["module_spec"]
    assert (spec["architecture"], spec["mode"], spec["filters_factor"], spec["num_classes"], spec["last_relu"]) == \
        ("resnet50", "v2", 4, 4, True)
    source = read_checkpoint(os.path.join(rotation_v2, "variables", "variables"))
    converted = read_checkpoint(os.path.join(out, "variables", "variables"))
    assert len(info["name_map"]) == len(source) == len(converted) == 251
    assert info["name_map"]["conv2d/kernel"] == "module/conv0/W"
    assert info["name_map"]["batch_normalization/moving_variance"] == "module/block1/unit1/preact/bn/variance/EMA"
    assert info["name_map"]["batch_normalization_48/gamma"] == "module/final_bn/gamma"
    np.testing.assert_array_equal(converted["module/logits/W"], source["conv2d_53/kernel"][0, 0])
    for name, target in info["name_map"].items():
        if name != "conv2d_53/kernel":
            np.testing.assert_array_equal(converted[target], source[name])
    images = np.random.RandomState(0).uniform(-1, 1, (2, 224, 224, 3)).astype(np.float32)
    assert _max_diff(rotation_v2, out, images) < 1e-4


def test_tar_gz_converts_like_the_directory(rotation_v2, tmp_path):
    tar = tar_module(rotation_v2, str(tmp_path / "rotation.tar.gz"))
    release.convert(tar, str(tmp_path / "from_tar"))
    release.convert(rotation_v2, str(tmp_path / "from_dir"))
    a = read_checkpoint(str(tmp_path / "from_tar" / "variables" / "variables"))
    b = read_checkpoint(str(tmp_path / "from_dir" / "variables" / "variables"))
    assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)


def _rewrite_variables(module_dir, edit):
    prefix = os.path.join(module_dir, "variables", "variables")
    values = edit(read_checkpoint(prefix))
    for path in os.listdir(os.path.dirname(prefix)):
        os.remove(os.path.join(os.path.dirname(prefix), path))
    write_checkpoint(values, prefix, write_state=False)


def test_swapped_same_shape_tensors_fail_the_equivalence(rotation_v2, tmp_path):
    swapped = str(tmp_path / "swapped")
    shutil.copytree(rotation_v2, swapped)
    _rewrite_variables(swapped, swapper("conv2d_30/kernel", "conv2d_33/kernel"))  # two 1x1 kernels of block 3
    out = str(tmp_path / "converted")
    release.convert(swapped, out)
    images = np.random.RandomState(0).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    assert _max_diff(rotation_v2, out, images) > 1e-3


def test_extra_or_missing_module_tensor_is_one_error(rotation_v2, tmp_path):
    extra = str(tmp_path / "extra")
    shutil.copytree(rotation_v2, extra)
    _rewrite_variables(extra, lambda v: dict(v, global_step=np.zeros([], np.int64)))
    with pytest.raises(ValueError, match="global_step is neither used nor ignored"):
        release.convert(extra, str(tmp_path / "out"))
    missing = str(tmp_path / "missing")
    shutil.copytree(rotation_v2, missing)
    _rewrite_variables(missing, lambda v: {k: a for k, a in v.items() if k != "batch_normalization_7/beta"})
    with pytest.raises(ValueError, match="batch_normalization_7/beta"):
        release.convert(missing, str(tmp_path / "out2"))
    scoped = str(tmp_path / "scoped")  # a training checkpoint's names (module/...) are not a module's
    shutil.copytree(rotation_v2, scoped)
    _rewrite_variables(scoped, lambda v: {"module/" + k: a for k, a in v.items()})
    with pytest.raises(ValueError, match="no conv2d/kernel"):
        release.convert(scoped, str(tmp_path / "out3"))


def test_patch_trunk_resnet50_v1_converts_exactly(tmp_path):
    module = write_hub_module(str(tmp_path / "module"), input_shape=(None, 64, 64, 3), seed=2, num_classes=1000,
                              mode="v1", root_conv_stride=1, strides=(2, 2, 1))
    out = str(tmp_path / "converted")
    spec = release.convert(module, out)["module_spec"]
    assert (spec["mode"], spec["task"], spec["input_shape"]) == ("v1", "relative_patch_location", [None, 64, 64, 3])
    images = np.random.RandomState(3).normal(0, 1, (3, 64, 64, 3)).astype(np.float32)
    assert _max_diff(module, out, images) < 1e-4


def test_revnet50_converts_exactly(tmp_path):
    """The release's best rotation trunk family (RevNet50, here at width x4 on 64 px inputs, root stride 2)."""
    module = write_hub_module(str(tmp_path / "module"), input_shape=(None, 64, 64, 3), seed=6, net=release_revnet50,
                              filters_factor=4)
    out = str(tmp_path / "converted")
    info = release.convert(module, out)
    spec = info["module_spec"]
    assert (spec["architecture"], spec["filters_factor"], spec["task"], spec["last_relu"]) == \
        ("revnet50", 4, "rotation", True)
    assert info["name_map"]["conv2d/kernel"] == "module/root_conv/kernel"
    assert info["name_map"]["conv2d_49/kernel"] == "module/logits/W"
    images = np.random.RandomState(7).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    assert _max_diff(module, out, images) < 1e-4


def test_vgg19_converts_exactly(tmp_path):
    """VGG19 x8 (the standard width; 32 px inputs keep fc6 a 1x1 conv), pre_logits [N, 1, 1, 4096] flattened."""
    module = write_hub_module(str(tmp_path / "module"), input_shape=(None, 32, 32, 3), seed=8, net=release_vgg19)
    out = str(tmp_path / "converted")
    info = release.convert(module, out)
    assert (info["module_spec"]["architecture"], info["module_spec"]["filters_factor"]) == ("vgg19", 8)
    assert info["name_map"]["conv2d_16/kernel"] == "module/fc6/W"
    assert info["name_map"]["batch_normalization_17/moving_mean"] == "module/fc7/bn/mean/EMA"
    images = np.random.RandomState(9).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    assert _max_diff(module, out, images) < 1e-4


@pytest.mark.slow
def test_linear_eval_takes_the_release_module_tar_gz(toy_record_dir, tmp_path):
    module = write_hub_module(str(tmp_path / "module"), input_shape=(None, 32, 32, 3), seed=4, filters_factor=1,
                              mode="v2", last_relu=False)
    tar = tar_module(module, str(tmp_path / "module.tar.gz"))
    out = str(tmp_path / "linear")
    argv = ["--config", CONFIG + ":toy_eval_rotation_or_exemplar", "--workdir", out, "--dataset_dir",
            toy_record_dir, "--hub_module", tar, "--smaller_size", "36", "--crop_size", "32", "--batch_size", "32",
            "--eval_batch_size", "10", "--epochs", "1", "--gpu", ""]
    assert train_and_eval.main(argv) == 0
    with open(os.path.join(out, "converted_module", "module.json")) as f:
        assert json.load(f)["last_relu"] is False
    with open(os.path.join(out, "results.json")) as f:
        assert set(json.load(f)["results"]) == {"after_root", "block1", "block2", "block3", "block4", "pre_logits",
                                                "logits"}
    images = np.random.RandomState(5).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    assert _max_diff(module, os.path.join(out, "converted_module"), images) < 1e-4
