"""Counting graphs against spec 9: phase-1 shapes and parameter counts, L = 20 at init, phase-2 heads and CE."""
import math

import numpy as np
import pytest
from tensorpack.tfutils.tower import TowerContext

from common.tf1 import tf
from counting import model as cmodel
from counting.conv_restore import ConvWeightsInit, conv_variables
from counting.flags import parse_flags
from counting.probe_model import CountingProbeModel, pooled_dims


def _params(variables):
    return sum(int(np.prod(v.shape.as_list())) for v in variables)


def _counting_graph(batch, size, logits_dim):
    m = cmodel.CountingModel(batch, size, logits_dim, "adam", 1e-4, "lr_cnt")
    imgs = tf.placeholder(tf.float32, [batch, size, size, 3])
    with TowerContext("", is_training=True):
        loss = m.build_graph(imgs, tf.zeros([batch], tf.int64), tf.zeros([batch], tf.int64))
    return imgs, loss


@pytest.mark.parametrize("logits_dim,total", [(1000, 34066792), (128, 30494208)])
def test_phase1_parameter_counts(logits_dim, total):
    with tf.Graph().as_default():
        _counting_graph(2, 256, logits_dim)
        assert len(tf.trainable_variables()) == 16
        assert _params(tf.trainable_variables()) == total
        convs = [_params([v for v in conv_variables() if "/conv%d/" % k in v.op.name]) for k in range(1, 6)]
        assert convs == [34944, 614656, 885120, 1327488, 884992]


def test_phase1_shapes_at_readme_batch():
    with tf.Graph().as_default():
        imgs = tf.placeholder(tf.float32, [256, 256, 256, 3])
        x, y = cmodel.split_pairs(imgs)
        d_x, _ = cmodel.random_downsample(x, 128)
        assert x.shape.as_list() == y.shape.as_list() == [128, 256, 256, 3]
        assert d_x.shape.as_list() == [128, 128, 128, 3]
        assert all(t.shape.as_list() == [128, 128, 128, 3] for t in cmodel.tiles(y))
        with TowerContext("", is_training=True):
            phi = cmodel.count_vectors([d_x] + cmodel.tiles(x), 1000)
        assert [p.shape.as_list() for p in phi] == [[128, 1000]] * 5


def test_phase1_loss_is_20_for_zero_images_at_init():
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        imgs, loss = _counting_graph(4, 72, 16)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run(loss, {imgs: np.zeros([4, 72, 72, 3], np.float32)}) == pytest.approx(20.0)
            # Pixel-range images give count vectors far from zero, so the loss leaves 20.
            pixels = 255.0 * np.random.RandomState(0).rand(4, 72, 72, 3)
            assert abs(sess.run(loss, {imgs: pixels}) - 20.0) > 1.0


def test_phase2_heads_parameters_and_initial_loss():
    with tf.Graph().as_default():
        m = CountingProbeModel(256, 1000, [7, 6, 4, 4, 3], "adam", 1e-3, "lr_cls")
        imgs = tf.placeholder(tf.float32, [2, 256, 256, 3])
        with TowerContext("", is_training=True):
            loss = m.build_graph(imgs, tf.constant([3, 7], tf.int64), tf.zeros([2], tf.int64))
        trainable = tf.trainable_variables()
        assert len(trainable) == 10 and _params(trainable) == 40325000
        assert not any(v.op.name.startswith("alexnet_v2") for v in trainable)
        assert [v.shape.as_list()[0] for v in trainable if len(v.shape) == 2] == [9600, 9216, 6144, 6144, 9216]
        assert len(conv_variables()) == 10 and not any("fc_" in v.op.name for v in tf.global_variables())
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run(loss, {imgs: np.zeros([2, 256, 256, 3], np.float32)}) == pytest.approx(
                math.log(1000), rel=1e-6)


def test_phase2_head_bn_adds_only_moving_statistics():
    """--head_bn (the toy config's probes): a scale/offset-free BatchNorm per head, no extra trainable variable."""
    args, _ = parse_flags("classifier", ["--exp_name", "e", "--config", "exp_configs/counting.json:toy",
                                         "--random_features"])
    assert args.head_bn is True
    with tf.Graph().as_default():
        m = CountingProbeModel(96, 10, [6, 3, 2, 2, 2], "adam", 1e-3, "lr_cls", feature_bn=args.head_bn)
        imgs = tf.placeholder(tf.float32, [4, 96, 96, 3])
        with TowerContext("", is_training=True):
            m.build_graph(imgs, tf.zeros([4], tf.int64), tf.zeros([4], tf.int64))
        assert len(tf.trainable_variables()) == 10
        names = {v.op.name for v in tf.global_variables()}
        assert {"linear/conv%d/bn/mean/EMA" % k for k in range(1, 6)} <= names


def test_pooled_dims_spec_values():
    assert pooled_dims([64, 32, 16, 16, 16], [96, 256, 384, 384, 256], [7, 6, 4, 4, 3]) == [
        9600, 9216, 6144, 6144, 9216]
    assert pooled_dims([56, 28, 14, 14, 14], [96, 256, 384, 384, 256], [7, 6, 4, 4, 3]) == [
        6144, 6400, 6144, 6144, 6400]
    assert pooled_dims([57, 29, 15, 15, 15], [96, 256, 384, 384, 256], [7, 6, 4, 4, 3]) == [
        7776, 6400, 6144, 6144, 6400]


def _save_counting_checkpoint(path, logits_dim=8):
    with tf.Graph().as_default():
        _counting_graph(2, 72, logits_dim)
        tf.train.get_or_create_global_step()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(tf.train.get_global_step().assign(312750))
            values = {v.op.name: sess.run(v) for v in tf.global_variables()}
            tf.train.Saver().save(sess, path)
    return values


def test_conv_restore_loads_only_conv_weights(tmp_path):
    saved = _save_counting_checkpoint(str(tmp_path / "model-1"))
    with tf.Graph().as_default():
        m = CountingProbeModel(72, 10, [6, 3, 2, 2, 2], "adam", 1e-3, "lr_cls")
        with TowerContext("", is_training=True):
            m.build_graph(tf.zeros([1, 72, 72, 3]), tf.zeros([1], tf.int64), tf.zeros([1], tf.int64))
        step = tf.train.get_or_create_global_step()
        init = ConvWeightsInit(str(tmp_path / "model-1"))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            init.init(sess)
            for v in conv_variables():
                np.testing.assert_array_equal(sess.run(v), saved[v.op.name])
            assert sess.run(step) == 0  # D5: the counting run's global step is not brought in


def test_conv_restore_refuses_another_architecture(tmp_path):
    with tf.Graph().as_default():
        tf.get_variable("alexnet_v2/conv1/W", [3, 3, 3, 8])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, str(tmp_path / "model-1"))
    with tf.Graph().as_default():
        m = CountingProbeModel(72, 10, [6, 3, 2, 2, 2], "adam", 1e-3, "lr_cls")
        with TowerContext("", is_training=True):
            m.build_graph(tf.zeros([1, 72, 72, 3]), tf.zeros([1], tf.int64), tf.zeros([1], tf.int64))
        with pytest.raises(ValueError, match="not a counting AlexNet: alexnet_v2/conv1/W has shape"):
            ConvWeightsInit(str(tmp_path / "model-1"))._setup_graph()


def test_bench_step_is_registered_and_builds_the_counting_loss():
    import argparse
    from bench.step import list_steps
    from counting.bench_step import counting_step
    assert "counting" in list_steps()
    args = argparse.Namespace(model="alexnet_counting", num_classes=8, image_size=72, data_format="NHWC")
    with tf.Graph().as_default():
        loss = counting_step(tf.zeros([4, 72, 72, 3]), tf.zeros([4], tf.int64), args)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run(loss) == pytest.approx(20.0)
