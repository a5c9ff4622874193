"""common.weights.torch_pickle: files written by torch.save in both serialisations read back without torch, and
pickles that would run code refused before anything runs."""
import collections
import io
import os
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest

from common.weights.torch_pickle import StandIn, load_pth

torch = pytest.importorskip("torch", reason="PyTorch is optional: `make setup-zoo` adds it (writes the .pth files)")

SERIALISATIONS = [pytest.param(True, id="zip"), pytest.param(False, id="legacy")]


@pytest.fixture
def release_class(monkeypatch):
    """A class named lib.NCEAverage.NCEAverage, an nn.Module with a ``memory`` buffer, as the release defines."""
    lib, module = types.ModuleType("lib"), types.ModuleType("lib.NCEAverage")

    class NCEAverage(torch.nn.Module):
        def __init__(self, rows, dim):
            super().__init__()
            self.K = 4096
            self.register_buffer("params", torch.tensor([4096, 0.07, -1, 0.5]))
            self.register_buffer("memory", torch.rand(rows, dim))

    NCEAverage.__module__, NCEAverage.__qualname__ = "lib.NCEAverage", "NCEAverage"
    module.NCEAverage, lib.NCEAverage = NCEAverage, module
    monkeypatch.setitem(sys.modules, "lib", lib)
    monkeypatch.setitem(sys.modules, "lib.NCEAverage", module)
    return NCEAverage


@pytest.mark.parametrize("zip_format", SERIALISATIONS)
def test_nested_containers_views_and_dtypes(tmp_path, zip_format):
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(5, 7, generator=gen)
    checkpoint = {
        "epoch": 12, "arch": "resnet50", "best_prec1": 46.86,
        "state_dict": collections.OrderedDict([
            ("module.conv1.weight", torch.randn(4, 3, 7, 7, generator=gen)),
            ("module.fc.weight", torch.nn.Parameter(base)),
            ("view.slice", base[1:4, ::3]),           # offset + strides on a shared storage
            ("view.transpose", base.t()),
            ("count", torch.tensor(7, dtype=torch.int64)),
            ("half", torch.randn(3, generator=gen).half()),
        ]),
        "optimizer": {"state": {0: {"momentum_buffer": torch.randn(2, 2, generator=gen)}},
                      "param_groups": [{"lr": 0.03, "params": [0, 1]}]},
        "nested": [({"deep": (base[2], [base[:, 0]])}, {1, 2}), None, b"\x00\xffraw"],
    }
    path = str(tmp_path / "ckpt.pth.tar")
    torch.save(checkpoint, path, _use_new_zipfile_serialization=zip_format)
    assert zipfile.is_zipfile(path) == zip_format

    got = load_pth(path)
    b = base.detach().numpy()
    sd = got["state_dict"]
    assert list(sd) == list(checkpoint["state_dict"])
    assert (got["epoch"], got["arch"], got["best_prec1"]) == (12, "resnet50", 46.86)
    np.testing.assert_array_equal(sd["module.conv1.weight"], checkpoint["state_dict"]["module.conv1.weight"].numpy())
    np.testing.assert_array_equal(sd["module.fc.weight"], b)
    np.testing.assert_array_equal(sd["view.slice"], b[1:4, ::3])
    np.testing.assert_array_equal(sd["view.transpose"], b.T)
    assert sd["count"].shape == () and sd["count"] == 7 and sd["count"].dtype == np.int64
    assert sd["half"].dtype == np.float16
    np.testing.assert_array_equal(sd["half"], checkpoint["state_dict"]["half"].numpy())
    deep = got["nested"][0][0]["deep"]
    np.testing.assert_array_equal(deep[0], b[2])
    np.testing.assert_array_equal(deep[1][0], b[:, 0])
    assert got["nested"][0][1] == {1, 2} and got["nested"][1] is None and got["nested"][2] == b"\x00\xffraw"
    assert got["optimizer"]["param_groups"][0]["lr"] == 0.03
    np.testing.assert_array_equal(got["optimizer"]["state"][0]["momentum_buffer"],
                                  checkpoint["optimizer"]["state"][0]["momentum_buffer"].numpy())


@pytest.mark.parametrize("zip_format", SERIALISATIONS)
def test_release_object_becomes_an_inert_stand_in(tmp_path, release_class, zip_format):
    nce = release_class(10, 4)
    path = str(tmp_path / "lemniscate.pth.tar")
    torch.save({"lemniscate": nce, "epoch": 1}, path, _use_new_zipfile_serialization=zip_format)
    got = load_pth(path)["lemniscate"]
    assert isinstance(got, StandIn) and type(got).__module__ == "lib.NCEAverage"
    np.testing.assert_array_equal(got.memory, nce.memory.numpy())
    np.testing.assert_allclose(got.params, nce.params.numpy())
    assert got.K == 4096
    with pytest.raises(ValueError, match="lib.NCEAverage.NCEAverage"):
        load_pth(path, stand_ins=())  # the class is not allowed unless named


class _RunsCode(object):
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch %s" % self.marker,))


def _zip_with_payload(path, payload):
    """A torch.save zip file whose data.pkl is replaced by ``payload``."""
    torch.save({"x": torch.ones(2)}, path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, payload if name.endswith("/data.pkl") else data)


@pytest.mark.parametrize("kind", ["zip", "legacy", "plain-pickle"])
def test_code_in_the_pickle_is_refused_and_never_run(tmp_path, kind):
    marker = tmp_path / "side-effect"
    payload = pickle.dumps({"state_dict": {}, "evil": _RunsCode(str(marker))}, protocol=2)
    path = str(tmp_path / "evil.pth")
    if kind == "zip":
        _zip_with_payload(path, payload)
    elif kind == "legacy":
        buf = io.BytesIO()
        for head in (0x1950a86a20f9469cfc6c, 1001, {"little_endian": True}):
            pickle.dump(head, buf, protocol=2)
        with open(path, "wb") as f:
            f.write(buf.getvalue() + payload + pickle.dumps([], protocol=2))
    else:
        with open(path, "wb") as f:
            f.write(payload)
    with pytest.raises(ValueError) as err:
        load_pth(path)
    message = str(err.value)
    assert "\n" not in message and "refused" in message and ("posix.system" in message or "os.system" in message)
    assert not marker.exists()


def test_tensor_outside_its_storage_is_refused(tmp_path):
    path = str(tmp_path / "bad.pth")
    torch.save({"w": torch.ones(4)}, path, _use_new_zipfile_serialization=False)
    data = open(path, "rb").read()
    good = load_pth(path)["w"]
    assert good.shape == (4,)
    # the size tuple (4,) is pickled as BININT1 4, TUPLE1; make it (40,): a read beyond the storage
    patched = data.replace(b"K\x04\x85", b"K\x28\x85", 1)
    assert patched != data
    with open(path, "wb") as f:
        f.write(patched)
    with pytest.raises(ValueError, match="reaches element"):
        load_pth(path)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a PyTorch checkpoint"):
        load_pth(str(path))
    with pytest.raises(ValueError, match="no such file"):
        load_pth(str(tmp_path / "missing.pth"))
