"""IR and LA objectives against the spec's worked values and independent numpy computations."""
import numpy as np
import pytest

from common.tf1 import tf
from local_aggregation.model import (IMAGENET_LEN, cluster_close_mask, ir_loss, ir_objective, la_loss,
                                     la_objective, partition_z)

N, K, T = IMAGENET_LEN, 4096, 0.07


def _run(fetches):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches)


def _np_ir(data_dot, noise_dot, n, t=T):
    z = 2876934.2 / 1281167 * n
    p_d, p_n = np.exp(data_dot / t) / z, np.exp(noise_dot / t) / z
    c = noise_dot.shape[1] / n
    model = -np.log(p_d / (p_d + c + 1e-7)).sum() / len(data_dot)
    noise = -np.log(c / (p_n + c + 1e-7)).sum() / len(data_dot)
    return model + noise, model, noise


def _np_la(dots, close, t=T):
    p = np.exp(dots / t) / 2876934.2
    ratio = (p * close).sum(1) / p.sum(1)
    return -np.mean(np.log(ratio + 1e-7))


def test_partition_function_is_release_constant():
    assert partition_z(N) == pytest.approx(2876934.2)
    assert partition_z(N) / N == pytest.approx(2.2455575, rel=1e-7)


@pytest.mark.parametrize("own_dot,expected", [(0.0, (9.700260, 9.126860, 0.573400)),
                                              (1.0, (0.579131, 0.005731, 0.573400))])
def test_ir_worked_values(own_dot, expected):
    with tf.Graph().as_default():
        data = tf.constant([own_dot, own_dot], tf.float64)
        got = _run(ir_loss(data, tf.zeros([2, K], tf.float64), N))
    np.testing.assert_allclose(got, expected, atol=2e-6)


def test_ir_loss_matches_numpy_on_random_inputs():
    rng = np.random.RandomState(1)
    data, noise = rng.uniform(-1, 1, 6), rng.uniform(-1, 1, (6, 40))
    with tf.Graph().as_default():
        got = _run(ir_loss(tf.constant(data), tf.constant(noise), 500, t=0.1))
    np.testing.assert_allclose(got, _np_ir(data, noise, 500, t=0.1), rtol=1e-9)


@pytest.mark.parametrize("dots,close,expected", [([0.9, 0.5, 0.1], [1, 0, 1], 0.003293),
                                                 ([1.0, 0.8], [1, 0], 0.055844),
                                                 ([0.3, 0.2], [1, 1], -1e-7)])
def test_la_worked_values(dots, close, expected):
    with tf.Graph().as_default():
        got = _run(la_loss(tf.constant([dots], tf.float64), tf.constant(np.array([close], bool))))
    assert got == pytest.approx(expected, abs=1e-6)
    assert got == pytest.approx(_np_la(np.array([dots]), np.array([close])), rel=1e-9, abs=1e-12)


def test_la_loss_matches_numpy_on_random_inputs():
    rng = np.random.RandomState(2)
    dots = rng.uniform(-1, 1, (5, 30)).astype(np.float32)
    close = rng.rand(5, 30) < 0.3
    close[:, 0] = True
    with tf.Graph().as_default():
        got = _run(la_loss(tf.constant(dots), tf.constant(close)))
    assert got == pytest.approx(_np_la(dots.astype(np.float64), close), rel=1e-5)


def test_close_mask_is_union_over_runs():
    rng = np.random.RandomState(3)
    labels = rng.randint(0, 4, size=(3, 20)).astype(np.int64)
    idx = rng.randint(0, 20, size=6).astype(np.int64)
    nbr = rng.randint(0, 20, size=(6, 8)).astype(np.int64)
    expected = np.zeros((6, 8), bool)
    for r in range(3):
        for i in range(6):
            for j in range(8):
                expected[i, j] |= labels[r, idx[i]] == labels[r, nbr[i, j]]
    with tf.Graph().as_default():
        got = _run(cluster_close_mask(tf.constant(labels), tf.constant(idx), tf.constant(nbr)))
    np.testing.assert_array_equal(got, expected)


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_la_objective_uses_top_k_background_and_clusters():
    rng = np.random.RandomState(4)
    bank, f = _unit(rng.randn(50, 8)), _unit(rng.randn(4, 8))
    labels = rng.randint(0, 5, size=(2, 50)).astype(np.int64)
    idx = np.array([3, 7, 11, 40])
    sims = f @ bank.T
    top = np.argsort(-sims, axis=1)[:, :10]
    close = np.zeros((4, 10), bool)
    for r in range(2):
        close |= labels[r][top] == labels[r][idx][:, None]
    expected = _np_la(np.take_along_axis(sims, top, 1), close)
    with tf.Graph().as_default():
        got = _run(la_objective(tf.constant(f), tf.constant(bank), tf.constant(labels), tf.constant(idx), k=10))
    assert got == pytest.approx(expected, rel=1e-9)


def test_ir_objective_data_term_uses_own_bank_row():
    rng = np.random.RandomState(5)
    bank, f = _unit(rng.randn(30, 8)), _unit(rng.randn(4, 8))
    idx = np.array([0, 5, 9, 29])
    with tf.Graph().as_default():
        _, loss_model, loss_noise = _run(ir_objective(tf.constant(f), tf.constant(bank), tf.constant(idx), 30, k=7))
    _, expected_model, _ = _np_ir((f * bank[idx]).sum(1), np.zeros((4, 7)), 30)
    assert loss_model == pytest.approx(expected_model, rel=1e-9)


def _noise_draws(graph):
    """The ``[B, K]`` noise indices ``ir_objective`` drew (its only integer random-uniform op)."""
    ops = [op for op in graph.get_operations() if op.type == "RandomUniformInt"]
    assert len(ops) == 1
    return ops[0].outputs[0]


def test_ir_objective_noise_term_matches_numpy_on_its_draws():
    rng = np.random.RandomState(8)
    bank, f = _unit(rng.randn(50, 8)), _unit(rng.randn(6, 8))
    idx = np.array([0, 3, 7, 11, 42, 49])
    with tf.Graph().as_default() as g:
        loss, loss_model, loss_noise = ir_objective(tf.constant(f), tf.constant(bank), tf.constant(idx), 50, k=9,
                                                    t=0.2)
        got, noise_idx = _run([(loss, loss_model, loss_noise), _noise_draws(g)])
    noise_dot = np.einsum("bkd,bd->bk", bank[noise_idx], f)
    np.testing.assert_allclose(got, _np_ir((f * bank[idx]).sum(1), noise_dot, 50, t=0.2), rtol=1e-9)


def test_ir_noise_is_uniform_with_replacement_over_the_bank():
    n, k, b = 10, 2000, 5
    with tf.Graph().as_default() as g:
        ir_objective(tf.zeros([b, 4], tf.float64), tf.zeros([n, 4], tf.float64), tf.range(b, dtype=tf.int64), n, k=k)
        draws = _run(_noise_draws(g))
    assert draws.shape == (b, k) and draws.min() >= 0 and draws.max() < n
    counts = np.bincount(draws.ravel(), minlength=n)
    expected = b * k / float(n)  # the positive itself may be drawn: every row of the bank is equally likely
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 40  # 9 degrees of freedom: p < 1e-5 of failing for a uniform sampler


def test_la_gradient_flows_to_embedding_only():
    with tf.Graph().as_default():
        f = tf.Variable(_unit(np.random.RandomState(6).randn(3, 8)))
        bank = tf.Variable(_unit(np.random.RandomState(7).randn(20, 8)), trainable=False)
        labels = tf.range(20, dtype=tf.int64)[None]
        loss = la_objective(f, bank, labels, tf.constant([0, 1, 2], tf.int64), k=5)
        grad_f, grad_bank = tf.gradients(loss, [f, bank])
        assert grad_bank is None
        assert np.abs(_run(grad_f)).sum() > 0
