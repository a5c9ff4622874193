"""Transfer read-out: layer selection, pooling against numpy, and the spec's feature sizes."""
import numpy as np
import pytest

from common.eval.pooling import flatten
from common.tf1 import tf
from local_aggregation.readout import endpoint_name, layer_poolers, quirk_pool


def _np_avg_pool_same(x, p):
    """NHWC average pool, window = stride = p, SAME padding; padded cells are left out of the mean."""
    b, h, w, c = x.shape
    out_h, out_w = -(-h // p), -(-w // p)
    top, left = (out_h * p - h) // 2, (out_w * p - w) // 2
    out = np.zeros((b, out_h, out_w, c))
    for i in range(out_h):
        for j in range(out_w):
            r0, c0 = max(i * p - top, 0), max(j * p - left, 0)
            out[:, i, j] = x[:, r0:i * p - top + p, c0:j * p - left + p].mean(axis=(1, 2))
    return out


def _size(pool, shape):
    with tf.Graph().as_default():
        return flatten(pool(tf.zeros(shape))).shape.as_list()[1]


def test_vgg_quirk_pools_width_and_channels():
    x = np.random.RandomState(1).rand(1, 30, 80, 90).astype(np.float32)  # 216,000 values -> p = 2
    expected = _np_avg_pool_same(x.transpose(0, 2, 3, 1), 2)
    with tf.Graph().as_default(), tf.Session() as sess:
        got = sess.run(quirk_pool(tf.constant(x)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_spatial_pooling_of_a_large_layer_matches_numpy():
    x = np.random.RandomState(2).rand(1, 85, 83, 120).astype(np.float32)  # 846,600 values -> p = 4
    pool = list(layer_poolers({"ending_point_3": None}, ["3"]).values())[0]
    with tf.Graph().as_default(), tf.Session() as sess:
        got = sess.run(pool(tf.constant(x)))
    np.testing.assert_allclose(got, _np_avg_pool_same(x, 4), rtol=1e-5)


@pytest.mark.parametrize("chw,size", [((64, 56, 56), 50176), ((128, 28, 28), 100352), ((512, 7, 7), 25088),
                                      ((256, 56, 56), 50176), ((512, 28, 28), 100352), ((2048, 7, 7), 100352)])
def test_resnet_feature_sizes_of_the_spec(chw, size):
    pool = list(layer_poolers({"ending_point_1": None}, ["1"]).values())[0]
    assert _size(pool, (1,) + chw[1:] + chw[:1]) == size


@pytest.mark.parametrize("hwc,size", [((224, 224, 64), 200704), ((112, 112, 128), 100352), ((56, 56, 256), 50176),
                                      ((28, 28, 512), 100352), ((14, 14, 512), 100352)])
def test_vgg_feature_sizes_of_the_spec_in_both_modes(hwc, size):
    spatial = list(layer_poolers({"ending_point_0": None}, ["0"]).values())[0]
    assert _size(spatial, (1,) + hwc) == size and _size(quirk_pool, (1,) + hwc) == size


def test_layer_keys_by_index_and_by_name():
    ends = {"ending_point_0": 0, "ending_point_1": 1, "pool1": 2, "conv1": 3, "conv5": 4}
    assert endpoint_name(ends, "1") == "ending_point_1" and endpoint_name(ends, "conv5") == "conv5"
    assert list(layer_poolers(ends, ["conv1", "0"])) == ["conv1", "ending_point_0"]
    with pytest.raises(ValueError, match="layer '7' not found"):
        endpoint_name(ends, "7")


@pytest.mark.parametrize("model_type,layers,sizes", [
    ("resnet18", "1,3,5,7,9", [50176, 50176, 100352, 50176, 25088]),
    ("resnet50", "1,4,8,14,17", [50176, 50176, 100352, 50176, 100352]),
    ("alexnet_bn_no_drop", "conv1,conv2,conv3,conv4,conv5", [186624, 129792, 55296, 55296, 36864]),
    ("vggnet_fx", "0,1,2,3,4", [200704, 100352, 50176, 100352, 100352])])
def test_transfer_feature_sizes_of_the_four_backbones(model_type, layers, sizes):
    from local_aggregation.model import network_embedding
    with tf.Graph().as_default():
        ends = network_embedding(tf.zeros([1, 224, 224, 3]), False, model_type)
        assert ends["embedding"].shape.as_list() == [1, 128]
        got = [flatten(pool(ends[name])).shape.as_list()[1]
               for name, pool in layer_poolers(ends, layers.split(",")).items()]
    assert got == sizes


def test_vgg_quirk_is_layout_independent():
    x = np.random.RandomState(3).rand(1, 30, 80, 90).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        nhwc, nchw = sess.run([quirk_pool(tf.constant(x)),
                               quirk_pool(tf.constant(x.transpose(0, 3, 1, 2)), data_format="NCHW")])
    np.testing.assert_allclose(nhwc, nchw, rtol=1e-6)
