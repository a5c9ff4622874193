"""Counting graphs: the release's phase-1 shapes and parameter counts, L = 20 at init, a trained model beating its
untrained copy, phase-2 heads and CE, validation accuracy from known logits, the conv-only restore."""
import math

import numpy as np
import pytest
from tensorpack.tfutils.tower import TowerContext

from common.tf1 import tf
from counting import model as cmodel
from counting.conv_restore import ConvWeightsInit, conv_variables
from counting.flags import parse_flags
from counting.probe_model import LAYERS, CountingProbeModel, accuracy_inferencers, pooled_dims


def _params(variables):
    return sum(int(np.prod(v.shape.as_list())) for v in variables)


def _counting_graph(batch, size, logits_dim):
    m = cmodel.CountingModel(batch, size, logits_dim, "adam")
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


def test_trained_counting_model_beats_its_untrained_copy_on_its_batch():
    """A few Adam steps on one batch lower that batch's counting loss (averaged over the random resize draws).

    Pixel-range inputs start with count vectors far from zero (loss in the thousands); 20 is the loss of phi = 0.
    """
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        m = cmodel.CountingModel(4, 72, 16, "adam")
        batch = tf.constant(255.0 * np.random.RandomState(0).rand(4, 72, 72, 3).astype(np.float32))
        with TowerContext("", is_training=True):
            loss = m.build_graph(batch, tf.zeros([4], tf.int64), tf.zeros([4], tf.int64))
        step = m.optimizer(tf.constant(1e-4)).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            untrained = np.mean([sess.run(loss) for _ in range(8)])
            for _ in range(20):
                sess.run(step)
            trained = np.mean([sess.run(loss) for _ in range(8)])
    assert untrained > 100.0 and trained < 0.1 * untrained, (trained, untrained)


def test_validation_inferencers_report_accuracy_of_known_logits():
    """Known logits fed into the five heads come out of the validation inferencers as top-1 accuracy."""
    rng = np.random.RandomState(4)
    with tf.Graph().as_default():
        m = CountingProbeModel(72, 10, [6, 3, 2, 2, 2], "adam")
        imgs, labels = tf.placeholder(tf.float32, [None, 72, 72, 3]), tf.placeholder(tf.int64, [None])
        with TowerContext("", is_training=False):
            m.build_graph(imgs, labels, tf.zeros_like(labels))
        graph = tf.get_default_graph()
        logits = [graph.get_tensor_by_name("logits-%s:0" % k) for k in LAYERS]
        infs = accuracy_inferencers()
        fetches = [graph.get_tensor_by_name(inf.get_fetches()[0]) for inf in infs]
        for inf in infs:
            inf._before_inference()
        hits, total = np.zeros(len(LAYERS)), 0
        with tf.Session() as sess:
            for size in (7, 5):  # two batches of different sizes: the average is over images
                truth = rng.randint(0, 10, size)
                truth[:2] = 3
                values = [rng.randn(size, 10) for _ in LAYERS]
                values[0][:, 3] += 100.0  # conv1 always predicts class 3: 4 hits in 12
                feed = dict(zip(logits, values))
                feed[labels] = truth
                for inf, vec in zip(infs, sess.run(fetches, feed)):
                    inf._on_fetches([vec])
                hits += [np.sum(np.argmax(v, axis=1) == truth) for v in values]
                total += size
    logged = {}
    for inf in infs:
        logged.update(inf._after_inference())
    want = hits / total
    assert want[0] == pytest.approx(4 / 12.0) and want.max() < 0.5  # accuracy and error differ
    for k, layer in enumerate(LAYERS):
        assert logged["val_top1_accuracy_" + layer] == pytest.approx(want[k], abs=1e-6)


def test_phase2_heads_parameters_and_initial_loss():
    with tf.Graph().as_default():
        m = CountingProbeModel(256, 1000, [7, 6, 4, 4, 3], "adam")
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
    args, _ = parse_flags("classifier_trn", ["--exp_name", "e", "--config", "exp_configs/counting.json:toy",
                                         "--random_features"])
    assert args.head_bn is True
    with tf.Graph().as_default():
        m = CountingProbeModel(96, 10, [6, 3, 2, 2, 2], "adam", feature_bn=args.head_bn)
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
        m = CountingProbeModel(72, 10, [6, 3, 2, 2, 2], "adam")
        with TowerContext("", is_training=True):
            m.build_graph(tf.zeros([1, 72, 72, 3]), tf.zeros([1], tf.int64), tf.zeros([1], tf.int64))
        step = tf.train.get_or_create_global_step()
        init = ConvWeightsInit(str(tmp_path / "model-1"))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            init.init(sess)
            for v in conv_variables():
                np.testing.assert_array_equal(sess.run(v), saved[v.op.name])
            assert sess.run(step) == 0  # the counting run's global step is not brought in


def test_conv_restore_refuses_another_architecture(tmp_path):
    with tf.Graph().as_default():
        tf.get_variable("alexnet_v2/conv1/W", [3, 3, 3, 8])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, str(tmp_path / "model-1"))
    with tf.Graph().as_default():
        m = CountingProbeModel(72, 10, [6, 3, 2, 2, 2], "adam")
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
