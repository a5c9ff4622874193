"""The Local Aggregation release's checkpoint in the project (``local_aggregation/release.py``): a tfutils tar written
by a release-style graph converts exactly (features within 1e-4 of the release network's, bank and labels carried),
a swapped pair of same-shaped tensors breaks the equivalence, bad sources are one-line errors, and the release's
validation crop matches numpy."""
import os
import sys
import tarfile

import numpy as np
import pytest
from PIL import Image

from common.tf1 import tf
from common.weights.tf_checkpoint import read_checkpoint, write_checkpoint
from local_aggregation import release
from tests.weight_edits import swapper

sys.path.insert(0, os.path.dirname(__file__))
from la_release_writer import write_release_tar  # noqa: E402

IMAGES = np.random.RandomState(3).uniform(0, 255, (3, 64, 64, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def release_tar(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("la_release"))
    return write_release_tar(folder, IMAGES)


def _features(model_dir, info):
    with release.feature_extractor(model_dir, info) as fn:
        return fn(IMAGES)


def test_tar_converts_exactly(release_tar, tmp_path):
    tar_path, expected = release_tar
    info = release.convert(tar_path, str(tmp_path))
    got = _features(str(tmp_path), info)
    assert got.shape == (3, 128)
    assert np.abs(got - expected).max() < 1e-4
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)
    assert info["architecture"] == "resnet18" and info["global_step"] == 1901710 and info["bank_rows"] == 40
    assert info["name_map"]["resnet_model/conv2d_1/kernel"] == "block1/unit1/shortcut/W"
    assert info["name_map"]["resnet_model/batch_normalization_16/moving_variance"] == "final_bn/variance/EMA"
    source = release.read_source(tar_path)
    converted = read_checkpoint(os.path.join(str(tmp_path), release.CHECKPOINT_NAME))
    for name in ("instance/memory_bank", "instance/all_labels", "instance/cluster_labels", "global_step"):
        np.testing.assert_array_equal(converted[name], source[name])
    assert not any(n.endswith("Momentum") for n in converted)
    assert converted["global_step"].shape == () and converted["global_step"].dtype == np.int64


def test_extracted_prefix_without_tfutils_names(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    tar_path, expected = write_release_tar(str(folder), IMAGES, tfutils=False, seed=5, step=12)
    info = release.convert(tar_path[:-len(".tar")], str(tmp_path / "out"))
    assert np.abs(_features(str(tmp_path / "out"), info) - expected).max() < 1e-4
    assert info["global_step"] == 12


def _rewrite(tar_path, folder, edit):
    """The release checkpoint of ``tar_path`` with ``edit(arrays)`` applied, as a new prefix in ``folder``."""
    with tarfile.open(tar_path) as tar:
        tar.extractall(str(folder))
    prefix = os.path.join(str(folder), "checkpoint-1901710")
    arrays = read_checkpoint(prefix)
    edit(arrays)
    out = os.path.join(str(folder), "edited")
    write_checkpoint(arrays, out)
    return out


def test_swapped_tensors_break_equivalence(release_tar, tmp_path):
    tar_path, expected = release_tar
    swap = swapper("model_0/__var_copy_0/resnet_model/conv2d_4/kernel",
                   "model_0/__var_copy_0/resnet_model/conv2d_5/kernel")
    info = release.convert(_rewrite(tar_path, tmp_path / "src", swap), str(tmp_path / "out"))
    assert np.abs(_features(str(tmp_path / "out"), info) - expected).max() > 1e-4


@pytest.mark.parametrize("edit, message", [
    (lambda a: a.update({"resnet_model/extra/kernel": np.zeros(3, np.float32)}), "resnet_model/extra/kernel"),
    (lambda a: a.pop("model_0/__var_copy_0/resnet_model/dense/bias"), "resnet_model/dense/bias"),
    (lambda a: a.pop("model_0/__var_copy_0/resnet_model/conv2d_20/kernel"), "conv2d"),
])
def test_bad_sources_are_refused(release_tar, tmp_path, edit, message):
    with pytest.raises(ValueError, match=message):
        release.convert(_rewrite(release_tar[0], tmp_path / "src", edit), str(tmp_path / "out"))


def test_missing_source_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        release.convert(str(tmp_path / "checkpoint-1.tar"), str(tmp_path / "out"))


def test_resnet_plan_covers_the_project_graph():
    for depth in (18, 50):
        with tf.Graph().as_default():
            release.network_embedding(tf.zeros([1, 64, 64, 3]), False, "resnet%d" % depth)
            graph = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
        plan = release.resnet_plan(depth)
        assert set(plan) == set(graph)
        assert len({source for source, _ in plan.values()}) == len(plan)


def test_preprocess_is_the_release_centre_crop(tmp_path):
    rng = np.random.RandomState(0)
    pixels = rng.randint(0, 256, (512, 600, 3)).astype(np.uint8)
    path = str(tmp_path / "img.png")
    Image.fromarray(pixels).save(path)
    got = release.preprocess(path)
    c = 512 * 224 // 256  # 448: a 2 x 2 area average down to 224
    y, x = (512 - c) // 2, (600 - c) // 2
    crop = pixels[y:y + c, x:x + c].astype(np.float64)
    expected = np.floor(crop.reshape(224, 2, 224, 2, 3).mean(axis=(1, 3)) + 1e-4)
    assert got.shape == (224, 224, 3) and got.dtype == np.float32
    assert np.abs(got - expected).max() <= 1
    assert np.mean(got == expected) > 0.99


def test_shape_mismatch_is_refused(release_tar, tmp_path):
    name = "model_0/__var_copy_0/resnet_model/dense/kernel"
    with pytest.raises(ValueError, match="logits/W"):
        release.convert(_rewrite(release_tar[0], tmp_path / "src", lambda a: a.update({name: a[name][:, :64]})),
                        str(tmp_path / "out"))


def test_zoo_tool_on_the_extracted_prefix(release_tar, tmp_path):
    from zoo.convert import convert
    from zoo.features import extract
    folder = tmp_path / "src"
    with tarfile.open(release_tar[0]) as tar:
        tar.extractall(str(folder))
    meta = convert("la", str(folder / "checkpoint-1901710"), str(tmp_path / "D"))
    assert (meta["release"], meta["source"], meta["architecture"]) == ("la", "checkpoint-1901710", "resnet18")
    assert meta["sha256"] != convert("la", release_tar[0], str(tmp_path / "D2"))["sha256"]
    inputs = np.random.RandomState(4).uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
    np.save(str(tmp_path / "X.npy"), inputs)
    extract(str(tmp_path / "D"), str(tmp_path / "X.npy"), str(tmp_path / "f.npy"))
    with release.feature_extractor(str(tmp_path / "D2"), meta) as fn:
        np.testing.assert_array_equal(np.load(str(tmp_path / "f.npy")), fn(inputs))
