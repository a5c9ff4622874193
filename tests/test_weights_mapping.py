"""common.weights.mapping and layouts: exact assignment (each error one line naming the tensor) and the layout
changes against independent numpy index arithmetic."""
import numpy as np
import pytest

from common.weights import layouts
from common.weights.mapping import assign_exactly

rng = np.random.RandomState(0)


def test_oihw_to_hwio_moves_every_element():
    w = rng.randn(5, 3, 2, 4)
    got = layouts.oihw_to_hwio(w)
    assert got.shape == (2, 4, 3, 5)
    for o, i, h, x in [(0, 0, 0, 0), (4, 2, 1, 3), (2, 1, 0, 2)]:
        assert got[h, x, i, o] == w[o, i, h, x]


def test_dense_transforms():
    w = rng.randn(6, 9)
    got = layouts.linear_to_dense(w)
    assert got.shape == (9, 6) and got[8, 5] == w[5, 8] and got[2, 3] == w[3, 2]
    k = rng.randn(1, 1, 7, 3)
    np.testing.assert_array_equal(layouts.conv1x1_to_dense(k), k.reshape(7, 3))
    with pytest.raises(ValueError, match="1, 1, in, out"):
        layouts.conv1x1_to_dense(rng.randn(3, 3, 7, 3))
    with pytest.raises(ValueError, match="rank-2"):
        layouts.linear_to_dense(rng.randn(3))


def test_bgr_to_rgb_first_conv_is_the_same_function_of_the_image():
    w = rng.randn(3, 3, 3, 8)
    rgb = rng.randn(3, 3, 3)
    bgr = rgb[:, :, ::-1]
    out_bgr_net = np.einsum("hwc,hwco->o", bgr, w)
    out_rgb_net = np.einsum("hwc,hwco->o", rgb, layouts.bgr_to_rgb_first_conv(w))
    np.testing.assert_allclose(out_rgb_net, out_bgr_net)
    with pytest.raises(ValueError, match="3 input channels"):
        layouts.bgr_to_rgb_first_conv(rng.randn(3, 3, 4, 8))


def _source():
    return {"conv.weight": rng.randn(4, 3, 3, 3), "fc.weight": rng.randn(10, 4), "fc.bias": rng.randn(10),
            "step": np.array(5)}


def _plan():
    return {"conv/W": ("conv.weight", layouts.oihw_to_hwio, (3, 3, 3, 4)),
            "fc/W": ("fc.weight", layouts.linear_to_dense), "fc/b": ("fc.bias", None)}


def test_assign_exactly_applies_the_plan():
    src = _source()
    out = assign_exactly(src, _plan(), ignore=["step"], shapes={"fc/W": (4, 10)})
    assert sorted(out) == ["conv/W", "fc/W", "fc/b"]
    np.testing.assert_array_equal(out["conv/W"], src["conv.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(out["fc/W"], src["fc.weight"].T)
    np.testing.assert_array_equal(out["fc/b"], src["fc.bias"])


def _error(source, plan, **kw):
    with pytest.raises(ValueError) as err:
        assign_exactly(source, plan, **kw)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_the_four_refusals_name_the_tensor():
    src = _source()
    plan = _plan()
    plan["fc/b"] = ("fc.beta", None)
    assert "fc/b" in _error(src, plan, ignore=["step"]) and "fc.beta" in _error(src, plan, ignore=["step"])
    plan = _plan()
    plan["fc/b2"] = ("fc.bias", None)
    assert "fc.bias is used twice" in _error(src, plan, ignore=["step"])
    assert "step is neither used nor ignored" in _error(src, _plan())
    msg = _error(src, _plan(), ignore=["step"], shapes={"fc/W": (10, 4)})
    assert "shape mismatch for fc/W" in msg and "fc.weight" in msg
    plan = _plan()
    plan["conv/W"] = ("conv.weight", None, (3, 3, 3, 4))  # layout change forgotten
    assert "shape mismatch for conv/W" in _error(src, plan, ignore=["step"])
    assert "not in the source" in _error(src, _plan(), ignore=["step", "nope"])
