"""common.eval.knn_monitor.KnnMonitor against numpy: bank equal to the queries gives 100 % 1-NN, weighted kNN
matches an independent computation, the period and final step trigger it; FeatureTower keeps rows aligned."""
import json
import types

import numpy as np
import pytest

from common.eval import knn_monitor
from common.eval.features import FeatureTower
from common.eval.knn_monitor import KnnMonitor
from common.tf1 import tf

N, D, C, T = 24, 6, 3, 2.0


def _data(seed=0):
    rng = np.random.RandomState(seed)
    images = rng.randn(N, 2, 2, 3).astype(np.float32)
    labels = rng.randint(0, C, N).astype(np.int64)
    weights = rng.randn(12, D).astype(np.float32)
    return images, labels, weights


def _np_features(images, weights):
    f = images.reshape(len(images), -1) @ weights
    return f / np.linalg.norm(f, axis=1, keepdims=True)


def _np_weighted_knn_top1(bank, bank_labels, queries, labels, k, t):
    sims = queries @ bank.T
    hits = []
    for q in range(len(queries)):
        top = np.argsort(-sims[q])[:k]
        votes = np.zeros(C)
        np.add.at(votes, bank_labels[top], np.exp(sims[q, top] / t))
        hits.append(votes.argmax() == labels[q])
    return float(np.mean(hits))


class _Monitors(object):
    def __init__(self):
        self.scalars = []

    def put_scalar(self, name, value):
        self.scalars.append((name, value))


def _monitor_graph(images, labels, weights, permutation, **kwargs):
    """A graph with a trainable weight (the 'training tower'), a bank holding the features of the images (in
    index order) and a KnnMonitor whose validation split is the same images, read in ``permutation`` order."""
    w = tf.get_variable("w", initializer=weights)
    bank = tf.Variable(_np_features(images, weights), trainable=False)
    bank_labels = tf.Variable(labels, trainable=False)

    def val():
        order = np.asarray(permutation)
        return tf.data.Dataset.from_tensor_slices((images[order], labels[order], order.astype(np.int64))).batch(5)

    def features_fn(image, label, index):
        with tf.variable_scope("", reuse=True):
            return tf.nn.l2_normalize(tf.matmul(tf.reshape(image, [-1, 12]), tf.get_variable("w")), axis=1)
    monitor = KnnMonitor(features_fn, val, lambda: (bank, bank_labels), C, [1, 5], T, **kwargs)
    assert w in tf.trainable_variables()
    return monitor


def _fake_trainer(monitor, sess, epoch_num):
    """Initialise the graph in ``sess`` and give ``monitor`` a stand-in for TensorPack's trainer."""
    sess.run(tf.global_variables_initializer())
    monitor.trainer = types.SimpleNamespace(sess=sess, monitors=_Monitors(), global_step=0, epoch_num=epoch_num)
    return monitor.trainer


def test_bank_equal_to_queries_gives_full_1nn_and_numpy_weighted_knn(tmp_path, monkeypatch):
    images, labels, weights = _data()
    monkeypatch.setattr(knn_monitor.logger, "get_logger_dir", lambda: str(tmp_path))
    feats = _np_features(images, weights)
    expected_k5 = _np_weighted_knn_top1(feats, labels, feats, labels, 5, T)
    assert expected_k5 < 1.0  # random labels: only the 1-NN is certain
    with tf.Graph().as_default():
        monitor = _monitor_graph(images, labels, weights, np.random.RandomState(1).permutation(N),
                                 names=["nn1", "knn5"], every_k_steps=3, final_step=5, scalar_prefix="knn/",
                                 log_name="val_log.txt")
        monitor._setup_graph()
        with tf.Session() as sess:
            trainer = _fake_trainer(monitor, sess, 1)
            for step in range(1, 8):
                trainer.global_step = step
                monitor._trigger_step()
    assert [h[0] for h in monitor.history] == [3, 5, 6]
    assert monitor.last["nn1"] == 1.0
    assert monitor.last["knn5"] == pytest.approx(expected_k5)
    assert trainer.monitors.scalars[:2] == [("knn/nn1", 1.0), ("knn/knn5", monitor.last["knn5"])]
    lines = [json.loads(line) for line in open(tmp_path / "val_log.txt")]
    assert [line["step"] for line in lines] == [3, 5, 6] and lines[0]["nn1"] == 1.0


def test_epoch_period_and_default_names():
    images, labels, weights = _data(2)
    with tf.Graph().as_default():
        monitor = _monitor_graph(images, labels, weights, np.arange(N), every_k_epochs=2)
        monitor._setup_graph()
        with tf.Session() as sess:
            trainer = _fake_trainer(monitor, sess, 0)
            for epoch in range(1, 6):
                trainer.epoch_num, trainer.global_step = epoch, 10 * epoch
                monitor._trigger_step()  # no step period: only epochs count
                monitor._trigger_epoch()
    assert [h[1] for h in monitor.history] == [2, 4]
    assert list(monitor.last) == ["knn1_top1", "knn5_top1"] and monitor.last["knn1_top1"] == 1.0


def test_monitor_settings_are_checked():
    with pytest.raises(ValueError, match="one name per k"):
        KnnMonitor(None, None, None, 3, [1, 200], 0.07, names=["nn1"], every_k_steps=1)
    with pytest.raises(ValueError, match="give a period"):
        KnnMonitor(None, None, None, 3, [1], 0.07)


def test_feature_tower_rows_follow_the_index():
    """Features read in a shuffled order come back in index order, each row the feature of its own image."""
    images, labels, weights = _data(3)
    order = np.random.RandomState(4).permutation(N)
    with tf.Graph().as_default():
        tower = FeatureTower(
            lambda: tf.data.Dataset.from_tensor_slices((images[order], labels[order], order.astype(np.int64))).batch(7),
            lambda image, label, index: tf.matmul(tf.reshape(image, [-1, 12]), weights), "probe")
        with tf.Session() as sess:
            feats, got_labels, indices = tower.run(sess, expect_size=N)
    np.testing.assert_allclose(feats, images.reshape(N, -1) @ weights, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_array_equal(indices, np.arange(N))
