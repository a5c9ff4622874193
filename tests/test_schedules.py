"""Shared learning-rate schedule pieces (common/schedules.py) against direct numpy formulas."""
import numpy as np

from common import schedules
from common.tf1 import tf


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
