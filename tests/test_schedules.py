"""Shared learning-rate schedule pieces and schedule objects (common/schedules.py) against direct numpy formulas;
the objects driven through ``launch_train``."""
import json
import os

import numpy as np
from tensorpack import ModelDesc

from common import schedules
from common.tf1 import tf
from common.train import Towers, launch_train


def test_piecewise_and_value_during():
    rng = np.random.RandomState(0)
    base, bounds = rng.uniform(0.01, 1), sorted(rng.choice(np.arange(1, 50), 3, replace=False))
    sched = schedules.piecewise(base, bounds, 0.1)
    for epoch in range(1, 60):  # the rate during 1-based epoch e is base * 0.1 ** (boundaries < e)
        want = base * 0.1 ** np.sum(np.asarray(bounds) < epoch)
        assert np.isclose(schedules.value_during(sched, epoch, base), want)


def test_polynomial_matches_formula():
    got = schedules.polynomial(0.5, 1e-7, 3, 10, power=2.0)
    i = np.arange(3, 10)
    want = (0.5 - 1e-7) * (1 - (i - 3) / 7.0) ** 2 + 1e-7
    assert [e for e, _ in got] == list(i) and np.allclose([v for _, v in got], want)


def test_cosine_matches_keras_formula_and_warmup_points():
    t = np.random.RandomState(1).randint(0, 1200, 20)
    want = 0.05 * ((1 - 1e-4) * 0.5 * (1 + np.cos(np.pi * np.minimum(t, 1000) / 1000.0)) + 1e-4)
    assert np.allclose([schedules.cosine(x, 1000, 0.05, 1e-4) for x in t], want)
    assert schedules.linear_warmup(1e-4, 0.05, 7) == [(0, 1e-4), (7, 0.05)]


def test_learning_rate_variable_is_shared():
    with tf.Graph().as_default():
        a = schedules.learning_rate_variable(0.3)
        b = schedules.learning_rate_variable(0.3)
        assert a is b and not a.trainable and len(tf.get_collection(tf.GraphKeys.SUMMARIES)) == 2
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert np.isclose(sess.run(a), 0.3)


def test_piecewise_lr_steps():
    lr = schedules.piecewise_lr(0.01, [30, 10])
    assert np.allclose([lr(0), lr(9), lr(10), lr(29), lr(30)], [0.01, 0.01, 0.001, 0.001, 0.0001])


class _Line(ModelDesc):
    """A one-weight regression trained through ``launch_train`` with plain SGD on the rate it is handed."""

    def inputs(self):
        return [tf.TensorSpec([None], tf.float32, "x")]

    def build_graph(self, x):
        w = tf.get_variable("w", [], initializer=tf.zeros_initializer())
        return tf.reduce_mean(tf.square(w * x - 1.0), name="cost")

    def optimizer(self, lr):
        return tf.train.GradientDescentOptimizer(lr)


def _train(tmp_path, schedule, epochs=3):
    with tf.Graph().as_default():
        launch_train(_Line(), lambda: tf.data.Dataset.from_tensors((tf.ones([2]),)).repeat(), str(tmp_path), 1,
                     epochs, Towers([0], on_cpu=True), lr_schedule=schedule)
    stats = json.load(open(os.path.join(str(tmp_path), "stats.json")))
    return stats, tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path)))


def test_epoch_schedule_sets_the_release_s_variable_by_object(tmp_path):
    stats, ckpt = _train(tmp_path, schedules.EpochSchedule(0.5, [(1, 0.25), (2, 0.125)], name="lr_cnt",
                                                           summary="opt/lr"))
    assert [s["opt/lr"] for s in stats] == [0.5, 0.25, 0.125]  # the release's scalar: the rate of each epoch
    assert ckpt.get_tensor("lr_cnt") == 0.125 and not ckpt.has_tensor("learning_rate")
    w, lr = 0.0, 0.5  # numpy SGD on mean((w - 1)^2) with the epoch rates 0.5, 0.25, 0.125
    for epoch_lr in (0.5, 0.25, 0.125):
        w -= epoch_lr * 2 * (w - 1.0)
    assert np.isclose(ckpt.get_tensor("w"), w)


def test_step_schedule_sets_the_rate_before_every_step(tmp_path):
    class Halving(schedules.StepSchedule):
        def value(self, step):
            return 0.5 ** (step + 1)
    _, ckpt = _train(tmp_path, Halving(0.5))
    w = 0.0
    for step in range(3):
        w -= 0.5 ** (step + 1) * 2 * (w - 1.0)
    assert np.isclose(ckpt.get_tensor("w"), w) and np.isclose(ckpt.get_tensor("learning_rate"), 0.5 ** 4)


def test_global_step_piecewise_matches_its_formula():
    from tensorpack.tfutils.common import get_global_step_var
    with tf.Graph().as_default():
        lr = schedules.GlobalStepPiecewise(0.3, [2, 5]).create_variable()
        assert lr.op.name == "lr"
        with tf.Session() as sess:
            for step in range(8):
                get_global_step_var().load(step, sess)
                assert np.isclose(sess.run(lr), 0.3 * 0.1 ** sum(step > b for b in (2, 5)))
