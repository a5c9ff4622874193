"""common/models/resnet_torchvision.py: torchvision's layout (parameter counts, names, symmetric padding vs numpy)."""
import numpy as np
import pytest

from common.tf1 import tf
from common.models import get_model


def _count(name, num_classes, size=64, **options):
    with tf.Graph().as_default():
        get_model(name)(tf.zeros([1, size, size, 3]), False, num_classes=num_classes, **options)
        return sum(int(np.prod(v.shape.as_list())) for v in tf.trainable_variables())


@pytest.mark.parametrize("name,expected", [("resnet18_tv", 11689512), ("resnet50_tv", 25557032)])
def test_parameter_counts_are_torchvisions(name, expected):
    assert _count(name, 1000) == expected  # torchvision's resnet18 / resnet50 with the 1000-way fc


def test_basic_blocks_project_only_where_stride_or_channels_change():
    with tf.Graph().as_default():
        get_model("resnet34_tv")(tf.zeros([1, 64, 64, 3]), False)
        names = [v.op.name for v in tf.global_variables()]
    assert sorted({n.split("/downsample")[0] for n in names if "downsample" in n}) == [
        "layer2/0", "layer3/0", "layer4/0"]
    assert "layer1/0/conv1/W" in names and "bn1/mean/EMA" in names


def test_bottleneck_strides_on_the_3x3_conv():
    with tf.Graph().as_default():
        get_model("resnet50_tv")(tf.zeros([1, 64, 64, 3]), False)
        graph = tf.get_default_graph()
        strides = {op.name: op.get_attr("strides") for op in graph.get_operations() if op.type == "Conv2D"}
    assert strides["layer2/0/conv1/Conv2D"] == [1, 1, 1, 1]
    assert strides["layer2/0/conv2/Conv2D"] == [1, 2, 2, 1]
    assert strides["layer2/0/downsample/0/Conv2D"] == [1, 2, 2, 1]


def _np_conv(x, w, stride, pad):
    """[H, W, C] x [k, k, C, O] cross-correlation with symmetric zero padding."""
    x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    k = w.shape[0]
    out_h = (x.shape[0] - k) // stride + 1
    out = np.zeros((out_h, out_h, w.shape[3]))
    for i in range(out_h):
        for j in range(out_h):
            patch = x[i * stride:i * stride + k, j * stride:j * stride + k]
            out[i, j] = np.tensordot(patch, w, axes=3)
    return out


def _np_maxpool(x, k=3, stride=2, pad=1):
    x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)), constant_values=-np.inf)
    out_h = (x.shape[0] - k) // stride + 1
    return np.array([[x[i * stride:i * stride + k, j * stride:j * stride + k].max(axis=(0, 1))
                      for j in range(out_h)] for i in range(out_h)])


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_stem_pads_symmetrically_like_torch(data_format):
    x = np.random.RandomState(0).randn(1, 16, 16, 3).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        ends = get_model("resnet18_tv")(tf.constant(x), False, width=0.25, data_format=data_format)
        sess.run(tf.global_variables_initializer())
        kernel = sess.run(tf.global_variables("conv1/W")[0])
        conv1, pool1 = sess.run([ends["conv1"], ends["pool1"]])
    if data_format == "NCHW":
        conv1, pool1 = conv1.transpose(0, 2, 3, 1), pool1.transpose(0, 2, 3, 1)
    want = np.maximum(_np_conv(x[0], kernel, 2, 3), 0) / np.sqrt(1 + 1e-5)  # BN at init: mean 0, var 1
    np.testing.assert_allclose(conv1[0], want, atol=1e-4)
    np.testing.assert_allclose(pool1[0], _np_maxpool(conv1[0]), atol=1e-6)
    assert conv1.shape[1:3] == (8, 8) and pool1.shape[1:3] == (4, 4)


def test_cifar_stem_is_a_3x3_stride_1_conv_without_pool():
    with tf.Graph().as_default():
        ends = get_model("resnet18_tv")(tf.zeros([1, 32, 32, 3]), False, stem="cifar")
        assert "pool1" not in ends and ends["conv5"].shape.as_list() == [1, 4, 4, 512]
        assert tf.global_variables("conv1/W")[0].shape.as_list() == [3, 3, 3, 64]
