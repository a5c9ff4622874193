"""instance_disc.nce: NCE loss, scores with a frozen Z, full softmax, Softmax-CE, index checks vs numpy."""
import numpy as np
import pytest

from common.tf1 import tf
from common.memory_bank import MemoryBank
from instance_disc.nce import (freeze_z_op, full_softmax_loss, instance_loss, nce_loss, nce_scores,
                               sample_bank_indices, softmax_ce_loss)


def _estimate():
    return tf.get_default_graph().get_tensor_by_name("nce_z_estimate:0")


def _run(fn, *arrays):
    with tf.Graph().as_default(), tf.Session() as sess:
        out = fn(*[tf.constant(a) for a in arrays])
        sess.run(tf.global_variables_initializer())
        return sess.run(out)


def _np_nce(p, n, eps=1e-7):
    c = (p.shape[1] - 1) / n
    pos = np.log(p[:, 0] / (p[:, 0] + c + eps))
    neg = np.log(c / (p[:, 1:] + c + eps))
    return -(pos.sum() + neg.sum()) / p.shape[0]


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _np_log_softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def test_nce_loss_worked_values_of_the_spec():
    one = _run(lambda p: nce_loss(p, 4), np.array([[1.0, 0.5, 0.25]], np.float32))
    assert one == pytest.approx(1.5040777, abs=1e-6)
    two = _run(lambda p: nce_loss(p, 4), np.array([[1.0, 0.5, 0.25], [0.5, 0.5, 0.5]], np.float32))
    assert two == pytest.approx(1.7917598, abs=1e-6)
    k = 4096
    flat = _run(lambda p: nce_loss(p, 10 * k), np.full((3, k + 1), 0.1, np.float32))
    assert flat == pytest.approx((k + 1) * np.log(2), rel=1e-5)


def test_nce_loss_matches_numpy_on_random_scores():
    rng = np.random.RandomState(3)
    p = rng.uniform(1e-6, 2e-3, size=(6, 33))
    assert _run(lambda s: nce_loss(s, 5000), p) == pytest.approx(_np_nce(p, 5000), rel=1e-10)


def test_nce_scores_estimate_z_once_then_freeze_it():
    rng = np.random.RandomState(0)
    n, t = 1000, 0.07
    f1, f2 = _unit(rng.randn(4, 16)), _unit(rng.randn(4, 16))
    rows1, rows2 = rng.uniform(-0.4, 0.4, (4, 9, 16)), rng.uniform(-0.4, 0.4, (4, 9, 16))
    with tf.Graph().as_default(), tf.Session() as sess:
        z_var = tf.Variable(-1.0, dtype=tf.float64, trainable=False)
        f, rows = tf.placeholder(tf.float64, [None, 16]), tf.placeholder(tf.float64, [None, 9, 16])
        p = nce_scores(f, rows, t, z_var, n)
        freeze = freeze_z_op(z_var, _estimate())
        sess.run(tf.global_variables_initializer())
        p1, _ = sess.run([p, freeze], {f: f1, rows: rows1})
        z1 = sess.run(z_var)
        p2, _ = sess.run([p, freeze], {f: f2, rows: rows2})
        assert sess.run(z_var) == z1
    e1 = np.exp(np.einsum("bkd,bd->bk", rows1, f1) / t)
    assert z1 == pytest.approx(n * e1.mean(), rel=1e-12)
    np.testing.assert_allclose(p1, e1 / z1, rtol=1e-12)
    np.testing.assert_allclose(p2, np.exp(np.einsum("bkd,bd->bk", rows2, f2) / t) / z1, rtol=1e-12)


def test_z_at_init_matches_the_spec_magnitude():
    rng = np.random.RandomState(1)
    d, t, n = 128, 0.07, 1281167
    a = np.sqrt(3.0 / d)
    f = _unit(rng.randn(64, d))
    rows = rng.uniform(-a, a, (64, 257, d))
    with tf.Graph().as_default(), tf.Session() as sess:
        z_var = tf.Variable(-1.0, dtype=tf.float64, trainable=False)
        nce_scores(tf.constant(f), tf.constant(rows), t, z_var, n)
        sess.run(tf.global_variables_initializer())
        sess.run(freeze_z_op(z_var, _estimate()))
        z = sess.run(z_var)
    assert z / n == pytest.approx(np.exp(1 / (2 * d * t * t)), rel=0.05)


def test_nce_gradient_flows_to_features_only():
    rng = np.random.RandomState(2)
    f0, rows0 = _unit(rng.randn(3, 8)), rng.randn(3, 5, 8)
    t, n = 0.1, 50
    with tf.Graph().as_default(), tf.Session() as sess:
        z_var = tf.Variable(-1.0, dtype=tf.float64, trainable=False)
        f, rows = tf.constant(f0), tf.constant(rows0)
        p = nce_scores(f, rows, t, z_var, n)
        g_f, g_rows = tf.gradients(tf.reduce_sum(p), [f, rows])
        sess.run(tf.global_variables_initializer())
        sess.run(freeze_z_op(z_var, _estimate()))
        z = sess.run(z_var)
        got = sess.run(g_f)
    assert g_rows is None
    e = np.exp(np.einsum("bkd,bd->bk", rows0, f0) / t)
    want = np.einsum("bk,bkd->bd", e / z / t, rows0)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_freeze_z_keeps_the_mean_of_the_tower_estimates_once():
    rng = np.random.RandomState(7)
    first, later = rng.uniform(500, 2000, 4), rng.uniform(500, 2000, 4)
    with tf.Graph().as_default(), tf.Session() as sess:
        z_var = tf.Variable(-1.0, trainable=False)
        estimates = tf.placeholder(tf.float32, [4])
        freeze = freeze_z_op(z_var, estimates)
        sess.run(tf.global_variables_initializer())
        sess.run(freeze, {estimates: first})
        sess.run(freeze, {estimates: later})
        assert sess.run(z_var) == pytest.approx(first.mean(), rel=1e-6)


def test_full_softmax_loss_matches_numpy():
    rng = np.random.RandomState(4)
    f, memory, idx = _unit(rng.randn(5, 12)), _unit(rng.randn(40, 12)), rng.choice(40, 5, replace=False)
    got = _run(lambda a, b, c: full_softmax_loss(a, b, c, 0.1), f, memory, idx.astype(np.int64))
    want = -_np_log_softmax(f @ memory.T / 0.1)[np.arange(5), idx].mean()
    assert got == pytest.approx(want, rel=1e-10)


def test_softmax_ce_loss_matches_numpy():
    rng = np.random.RandomState(5)
    f, rows = _unit(rng.randn(6, 10)), _unit(rng.randn(6, 17, 10))
    got = _run(lambda a, b: softmax_ce_loss(a, b, 0.07), f, rows)
    want = -_np_log_softmax(np.einsum("bkd,bd->bk", rows, f) / 0.07)[:, 0].mean()
    assert got == pytest.approx(want, rel=1e-10)


def test_sampled_indices_put_the_positive_first():
    idx = np.array([7, 0, 3], np.int64)
    got = _run(lambda i: sample_bank_indices(i, 50, 10, seed=1), idx)
    assert got.shape == (3, 51)
    np.testing.assert_array_equal(got[:, 0], idx)
    assert got[:, 1:].min() >= 0 and got[:, 1:].max() < 10


@pytest.mark.parametrize("objective", ["nce", "softmax", "softmax_ce"])
def test_instance_loss_dispatches_to_each_objective(objective):
    rng = np.random.RandomState(6)
    n, d, b, k, t = 30, 8, 4, 6, 0.1
    memory0, f0 = _unit(rng.randn(n, d)).astype(np.float32), _unit(rng.randn(b, d)).astype(np.float32)
    idx = np.array([3, 9, 0, 29], np.int64)
    with tf.Graph().as_default(), tf.Session() as sess:
        bank = MemoryBank("instance", n, d)
        z_var = tf.Variable(-1.0, trainable=False)
        drawn = []
        gather = bank.gather
        bank.gather = lambda i: drawn.append(i) or gather(i)
        loss = instance_loss(objective, tf.constant(f0), tf.constant(idx), bank, k, t, z_var, seed=3)
        sess.run(tf.global_variables_initializer())
        bank.var.load(memory0, sess)
        got = sess.run([loss] + drawn)
    if objective == "softmax":
        want = -_np_log_softmax(f0 @ memory0.T / t)[np.arange(b), idx].mean()
    else:
        np.testing.assert_array_equal(got[-1][:, 0], idx)
        dots = np.einsum("bkd,bd->bk", memory0[got[-1]], f0) / t
        if objective == "softmax_ce":
            want = -_np_log_softmax(dots)[:, 0].mean()
        else:
            e = np.exp(dots)
            want = _np_nce(e / (n * e.mean()), n)
    assert got[0] == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("objective", ["nce", "softmax", "softmax_ce"])
def test_out_of_range_indices_fail_in_every_objective(objective):
    with tf.Graph().as_default(), tf.Session() as sess:
        bank = MemoryBank("instance", 10, 4)
        idx = tf.placeholder(tf.int64, [2])
        loss = instance_loss(objective, tf.nn.l2_normalize(tf.ones([2, 4]), 1), idx, bank, 3, 0.1,
                             tf.Variable(-1.0, trainable=False))
        sess.run(tf.global_variables_initializer())
        with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
            sess.run(loss, {idx: [1, 12]})


def test_unknown_objective_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown objective 'nope'"):
        instance_loss("nope", None, None, None, 4, 0.1)
