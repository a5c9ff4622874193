"""RevNet-50 (common/models/revnet.py): parameter counts and shapes of the spec, coupling unit against numpy."""
import numpy as np
import pytest

from tensorpack import BatchNorm, Conv2D, argscope
from tensorpack.tfutils.tower import TowerContext

from common.tf1 import tf
from common.models import get_model, revnet

RNG = np.random.RandomState(2)


def build_counts(width, num_classes, size=224, **options):
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, [None, size, size, 3])
        ends = get_model("revnet50")(images, True, num_classes=num_classes, width=width, weight_decay=1e-4, **options)
        params = sum(int(np.prod(v.shape.as_list())) for v in tf.trainable_variables())
        shapes = {k: v.shape.as_list()[1:] for k, v in ends.items()}
        regs = len(tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES))
    return params, shapes, regs


def test_spec_parameter_counts_and_shapes():
    params, shapes, regs = build_counts(1, None)
    assert round(params / 1e6, 3) == 5.409
    assert shapes == {"after_root": [56, 56, 256], "block1": [56, 56, 256], "block2": [28, 28, 512],
                      "block3": [14, 14, 1024], "block4": [7, 7, 2048], "pre_logits": [2048]}
    assert regs == 16 * 3  # every bottleneck conv, not the root conv
    params, shapes, regs = build_counts(1, 1000, size=32)
    assert round(params / 1e6, 3) == 7.458 and shapes["logits"] == [1000] and regs == 16 * 3 + 1
    assert round(build_counts(2, None, size=32)[0] / 1e6, 3) == 21.506


def test_patch_task_strides():
    _, shapes, _ = build_counts(0.25, 8, size=64, root_conv_stride=1, strides=(2, 2, 1))
    assert [shapes[k][:2] for k in ("after_root", "block1", "block2", "block3", "block4")] == \
        [[32, 32], [32, 32], [16, 16], [8, 8], [8, 8]]
    assert shapes["block4"][2] == 512 and shapes["pre_logits"] == [512] and shapes["logits"] == [8]


def np_conv(x, w, stride=1):
    k = w.shape[0]
    before = (k - 1) // 2
    x = np.pad(x, [(0, 0), (before, k - 1 - before), (before, k - 1 - before), (0, 0)])
    n, h, wd, _ = x.shape
    oh, ow = (h - k) // stride + 1, (wd - k) // stride + 1
    out = np.zeros((n, oh, ow, w.shape[3]))
    for i in range(k):
        for j in range(k):
            out += x[:, i:i + stride * oh:stride, j:j + stride * ow:stride] @ w[i, j]
    return out


def test_coupling_unit_and_transition_match_numpy():
    x = RNG.randn(2, 5, 5, 16).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        with TowerContext("", is_training=False), argscope(Conv2D, data_format="NHWC", use_bias=False), \
                argscope(BatchNorm, epsilon=1e-3):
            unit = revnet._unit(tf.constant(x))
            trans = revnet._pool_and_double_channels(tf.constant(x), 2)
        for v in tf.global_variables():
            v.load(RNG.uniform(0.5, 1.5, v.shape.as_list()).astype(np.float32), sess)
        got, got_trans = sess.run([unit, trans])
        v = {var.op.name: sess.run(var) for var in tf.global_variables()}

    def bn_relu(h, name):
        h = (h - v[name + "/bn/mean/EMA"]) / np.sqrt(v[name + "/bn/variance/EMA"] + 1e-3)
        return np.maximum(h * v[name + "/bn/gamma"] + v[name + "/bn/beta"], 0)
    x1, x2 = x[..., :8], x[..., 8:]
    h = np_conv(bn_relu(x2, "bn1"), v["conv1/W"])
    h = np_conv(bn_relu(h, "bn2"), v["conv2/W"])
    f = np_conv(bn_relu(h, "bn3"), v["conv3/W"])
    np.testing.assert_allclose(got, np.concatenate([x2, x1 + f], axis=3), rtol=1e-4, atol=1e-4)
    # transition: 2x2 average pool (SAME: the odd border is averaged over what exists), zero channels both sides
    pad = np.pad(x, [(0, 0), (0, 1), (0, 1), (0, 0)])
    ones = np.pad(np.ones((1, 5, 5, 1)), [(0, 0), (0, 1), (0, 1), (0, 0)])
    pooled = pad.reshape(2, 3, 2, 3, 2, 16).sum((2, 4)) / ones.reshape(1, 3, 2, 3, 2, 1).sum((2, 4))
    np.testing.assert_allclose(got_trans, np.pad(pooled, [(0, 0), (0, 0), (0, 0), (8, 8)]), rtol=1e-5, atol=1e-6)


def test_nchw_matches_nhwc():
    x = RNG.randn(2, 32, 32, 3).astype(np.float32)
    outs = []
    for fmt in ("NHWC", "NCHW"):
        with tf.Graph().as_default(), tf.Session() as sess:
            tf.set_random_seed(0)
            ends = get_model("revnet50")(tf.constant(x), False, num_classes=3, data_format=fmt, width=0.25)
            sess.run(tf.global_variables_initializer())
            try:
                outs.append(sess.run(ends["logits"]))
            except tf.errors.InvalidArgumentError:  # CPU kernels lack NCHW max-pool in some TF builds
                pytest.skip("NCHW pooling not available on this CPU build")
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-5)


def test_unsupported_width_is_one_line_error():
    with tf.Graph().as_default(), pytest.raises(ValueError, match="'revnet50' does not support width 0.3"):
        get_model("revnet50")(tf.zeros([1, 32, 32, 3]), False, width=0.3)
