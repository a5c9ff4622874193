"""instance_disc/release.py: lemniscate checkpoints written as the release writes them (both serialisations)
convert exactly, the project's embedding equals PyTorch's, and inexact files fail."""
import json

import numpy as np
import pytest

from common.weights.tf_checkpoint import read_checkpoint

torch = pytest.importorskip("torch", reason="PyTorch is optional: `make setup-zoo` adds it (writes the .pth files)")
import lemniscate_release as lr  # noqa: E402  (needs torch)
from instance_disc import release  # noqa: E402

SIZE = 64


@pytest.fixture
def release_modules(monkeypatch):
    lr.install_release_modules(monkeypatch)


def _project_features(out_dir, meta, batch):
    with release.feature_extractor(str(out_dir), meta) as fn:
        return fn(batch)


def _batch(n=3, seed=1):
    return np.random.RandomState(seed).randn(n, 3, SIZE, SIZE).astype(np.float32)


@pytest.mark.parametrize("arch,zip_format", [("resnet18", True), ("resnet18", False), ("resnet50", True),
                                             ("resnet50", False)])
def test_converted_release_file_gives_pytorchs_embedding(tmp_path, release_modules, arch, zip_format):
    path = str(tmp_path / ("lemniscate_%s.pth.tar" % arch))
    model, bank = lr.save_release_checkpoint(path, arch, n_data=20, zip_format=zip_format, size=SIZE)
    meta = release.convert(path, str(tmp_path / "out"))
    x = _batch()
    want, got = lr.torch_embedding(model, x), _project_features(tmp_path / "out", meta, x)
    assert got.shape == (3, 128)
    assert np.abs(got - want).max() < 1e-4, np.abs(got - want).max()
    stored = read_checkpoint(str(tmp_path / "out" / "model"))
    np.testing.assert_array_equal(stored["instance/memory_bank"], bank)  # the release's row order, as stored
    assert stored["instance/nce_z"] == np.float32(20 * 2.2)
    assert meta["arch"] == arch and meta["bank_rows"] == 20 and meta["nce_params"]["K"] == 4096
    assert meta["name_map"]["module.layer1.0.conv1.weight"] == "layer1/0/conv1/W"
    assert meta["name_map"]["module.fc.weight"] == "embed_fc/kernel"
    json.dumps(meta)  # zoo.json material


def test_swapped_same_shaped_tensors_break_the_equivalence(tmp_path, release_modules):
    good, bad = str(tmp_path / "good.pth"), str(tmp_path / "swapped.pth")
    model, _ = lr.save_release_checkpoint(good, "resnet18", 10, size=SIZE)
    lr.save_release_checkpoint(bad, "resnet18", 10, size=SIZE,
                               swap=("module.layer1.0.conv1.weight", "module.layer1.0.conv2.weight"))
    x = _batch()
    want = lr.torch_embedding(model, x)
    gaps = {}
    for name, path in (("good", good), ("swapped", bad)):
        meta = release.convert(path, str(tmp_path / name))
        gaps[name] = np.abs(_project_features(tmp_path / name, meta, x) - want).max()
    assert gaps["good"] < 1e-4 and gaps["swapped"] > 1e-3, gaps


def _rewrite(path, out, edit):
    ckpt = torch.load(path, weights_only=False)
    edit(ckpt)
    torch.save(ckpt, out)
    return out


@pytest.mark.parametrize("edit,words", [
    (lambda c: c["state_dict"].pop("module.layer2.0.downsample.1.running_var"),
     "module.layer2.0.downsample.1.running_var is not in the source"),
    (lambda c: c["state_dict"].__setitem__("module.extra.weight", torch.zeros(3)),
     "module.extra.weight is neither used nor ignored"),
    (lambda c: c["state_dict"].__setitem__("module.fc.bias", torch.zeros(7)), "module.fc.bias"),
    (lambda c: c.__setitem__("arch", "alexnet"), "arch 'alexnet' is not one of the release's ResNets"),
])
def test_inexact_files_are_one_error_line(tmp_path, release_modules, edit, words):
    path = str(tmp_path / "ckpt.pth.tar")
    lr.save_release_checkpoint(path, "resnet18", 10, size=SIZE)
    bad = _rewrite(path, str(tmp_path / "bad.pth.tar"), edit)
    with pytest.raises(ValueError) as err:
        release.convert(bad, str(tmp_path / "out"))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_file_without_memory_module_converts_the_network_only(tmp_path, release_modules):
    path = str(tmp_path / "ckpt.pth")
    model, _ = lr.save_release_checkpoint(path, "resnet18", 10, size=SIZE)
    bare = _rewrite(path, str(tmp_path / "update.pth"), lambda c: c.pop("lemniscate"))
    meta = release.convert(bare, str(tmp_path / "out"))
    assert meta["bank_rows"] is None and meta["bank_order"] is None
    assert not any(k.startswith("instance/") for k in read_checkpoint(str(tmp_path / "out" / "model")))
    x = _batch()
    assert np.abs(_project_features(tmp_path / "out", meta, x) - lr.torch_embedding(model, x)).max() < 1e-4


def test_a_full_softmax_file_keeps_its_bank_without_z(tmp_path, release_modules):
    path = str(tmp_path / "ckpt.pth")
    lr.save_release_checkpoint(path, "resnet18", 10, size=SIZE)
    memory = lr.LinearAverage(128, 10)
    softmax = _rewrite(path, str(tmp_path / "softmax.pth"), lambda c: c.__setitem__("lemniscate", memory))
    meta = release.convert(softmax, str(tmp_path / "out"))
    stored = read_checkpoint(str(tmp_path / "out" / "model"))
    np.testing.assert_array_equal(stored["instance/memory_bank"], memory.memory.numpy())
    assert "instance/nce_z" not in stored and meta["nce_params"] == pytest.approx({"T": 0.07, "momentum": 0.5})
    assert meta["bank_class"] == "lib.LinearAverage.LinearAverage"


def _pil_bilinear_1d(n_in, n_out):
    """Weights [n_out, n_in] of PIL's bilinear resampling (triangle filter widened by the scale when shrinking)."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = (i + 0.5) * scale
        lo, hi = int(max(np.floor(centre - support + 0.5), 0)), int(min(np.floor(centre + support + 0.5), n_in))
        taps = np.maximum(0, 1 - np.abs((np.arange(lo, hi) + 0.5 - centre) / support))
        w[i, lo:hi] = taps / taps.sum()
    return w


@pytest.mark.parametrize("shape", [(300, 257), (257, 400), (256, 257), (200, 230)])  # (256, 257): offset 16.5 -> 17
def test_preprocess_is_the_release_val_transform(tmp_path, shape):
    h, w = shape
    img = np.random.RandomState(h + w).randint(0, 256, (h, w, 3)).astype(np.uint8)
    path = str(tmp_path / "img.png")
    from PIL import Image
    Image.fromarray(img).save(path)
    out_h, out_w = (int(256 * h / w), 256) if w < h else (256, int(256 * w / h))
    rows = np.tensordot(_pil_bilinear_1d(h, out_h), img.astype(np.float64), axes=(1, 0))  # [out_h, w, 3]
    resized = np.tensordot(rows, _pil_bilinear_1d(w, out_w), axes=(1, 1)).transpose(0, 2, 1)
    top, left = int(np.floor((out_h - 224) / 2 + 0.5)), int(np.floor((out_w - 224) / 2 + 0.5))
    want = ((resized[top:top + 224, left:left + 224] / 255 - MEAN) / STD).transpose(2, 0, 1)
    got = release.preprocess(path)
    assert got.shape == (3, 224, 224) and got.dtype == np.float32
    assert np.abs(got - want).max() < 2.5 / 255 / min(STD)  # PIL rounds each of its two passes to uint8
    assert np.abs(got - want).mean() < 0.5 / 255 / min(STD)


MEAN, STD = np.array(lr.MEAN), np.array(lr.STD)
