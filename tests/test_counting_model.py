"""Counting task pieces against numpy: pairing, tiles, per-sample resize choice, the loss (spec 4.1-4.5, 9.9-9.10)."""
import numpy as np
import pytest

from common.tf1 import tf
from counting import model


def _run(fetches, feed=None):
    with tf.Session(graph=tf.get_default_graph()) as sess:
        return sess.run(fetches, feed)


@pytest.fixture(autouse=True)
def _fresh_graph():
    with tf.Graph().as_default():
        yield


def np_counting_loss(dx, dy, tx, ty, margin=10.0):
    sx, sy = sum(tx), sum(ty)
    d = lambda a, b: ((a - b) ** 2).sum(axis=1)  # noqa: E731
    pair = d(dx, sx).mean() + d(dy, sy).mean()
    unpair = np.maximum(0, margin - d(dy, sx)).mean() + np.maximum(0, margin - d(dx, sy)).mean()
    return pair + unpair, pair, unpair


def _loss(dx, dy, tx, ty, margin=10.0):
    c = lambda a: tf.constant(a, tf.float32)  # noqa: E731
    return _run(model.counting_loss(c(dx), c(dy), [c(t) for t in tx], [c(t) for t in ty], margin))


@pytest.mark.parametrize("scale_y,expected", [(1.0, 16.0), (2.0, 10.0), (4.0, 0.0)])
def test_counting_loss_worked_values(scale_y, expected):
    dx, tx = np.array([[1.0, 0.0]]), [np.array([[0.25, 0.0]])] * 4
    dy, ty = np.array([[0.0, scale_y]]), [np.array([[0.0, scale_y / 4]])] * 4
    loss, pair, unpair = _loss(dx, dy, tx, ty)
    assert pair == pytest.approx(0.0)
    assert loss == pytest.approx(expected) and unpair == pytest.approx(expected)


def test_counting_loss_collapsed_phi():
    zero = np.zeros((3, 5))
    loss, pair, unpair = _loss(zero, zero, [zero] * 4, [zero] * 4)
    assert (loss, pair, unpair) == pytest.approx((20.0, 0.0, 20.0))
    c = np.full((3, 5), 0.3)  # constant phi: L = 2|c - 4c|^2 + 2 max(0, 10 - 9|c|^2)
    norm2 = (0.3 ** 2) * 5
    assert _loss(c, c, [c] * 4, [c] * 4)[0] == pytest.approx(2 * 9 * norm2 + 2 * max(0, 10 - 9 * norm2), rel=1e-5)


def test_counting_loss_matches_numpy_on_random_inputs():
    rng = np.random.RandomState(0)
    b, d = 7, 6
    dx, dy = rng.rand(b, d), rng.rand(b, d)
    tx, ty = [rng.rand(b, d) * 0.5 for _ in range(4)], [rng.rand(b, d) * 0.5 for _ in range(4)]
    for margin in (10.0, 3.0):
        np.testing.assert_allclose(_loss(dx, dy, tx, ty, margin), np_counting_loss(dx, dy, tx, ty, margin),
                                   rtol=1e-5)


def test_split_pairs_and_tiles_match_numpy():
    rng = np.random.RandomState(1)
    img = rng.rand(4, 8, 6, 3).astype(np.float32)
    x, y = model.split_pairs(tf.constant(img))
    ts = model.tiles(x)
    xv, yv, tv = _run([x, y, ts])
    np.testing.assert_array_equal(xv, img[:2])
    np.testing.assert_array_equal(yv, img[2:])
    expected = [img[:2, :4, :3], img[:2, 4:, :3], img[:2, :4, 3:], img[:2, 4:, 3:]]
    for got, want in zip(tv, expected):
        np.testing.assert_array_equal(got, want)


def test_split_pairs_rejects_odd_batch():
    with pytest.raises(ValueError, match="batch_size 5 is odd"):
        model.split_pairs(tf.zeros([5, 8, 8, 3]))


def _np_lanczos5_1d(n_in, n_out):
    """Resampling matrix of a scale-and-translate lanczos5 kernel (no antialias), renormalised at the borders."""
    def lanczos(x, a=5.0):
        return np.where(np.abs(x) < a, np.sinc(x) * np.sinc(x / a), 0.0)
    scale = n_out / n_in
    mat = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = (i + 0.5) / scale
        w = lanczos(np.arange(n_in) + 0.5 - centre)
        mat[i] = w / w.sum()
    return mat


def test_resize_methods_match_numpy_at_half_size():
    rng = np.random.RandomState(2)
    img = rng.randn(2, 16, 16, 3).astype(np.float32)
    out = _run({m: model.resize_like_tf2(tf.constant(img), 8, m) for m in model.RESIZE_METHODS})
    block_mean = img.reshape(2, 8, 2, 8, 2, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(out["bilinear"], block_mean, atol=1e-5)   # half-pixel centres at scale 1/2
    np.testing.assert_allclose(out["area"], block_mean, atol=1e-5)
    np.testing.assert_allclose(out["nearest"], img[:, 1::2, 1::2], atol=1e-6)
    m = _np_lanczos5_1d(16, 8)
    np.testing.assert_allclose(out["lanczos5"], np.einsum("ih,jw,bhwc->bijc", m, m, img), atol=1e-4)
    const = _run(model.resize_like_tf2(tf.fill([1, 16, 16, 3], 0.7), 8, "bicubic"))
    np.testing.assert_allclose(const, 0.7, atol=1e-5)


def test_random_downsample_picks_the_method_of_each_sample():
    rng = np.random.RandomState(3)
    img = tf.constant(rng.randn(64, 8, 8, 3).astype(np.float32))
    out, index = model.random_downsample(img, 4, seed=5)
    refs = [model.resize_like_tf2(img, 4, m) for m in model.RESIZE_METHODS]
    outv, idx, refv = _run([out, index, refs])
    assert sorted(set(idx.tolist())) == [0, 1, 2, 3, 4]  # all five methods occur in 64 draws
    for row, k in enumerate(idx):
        np.testing.assert_allclose(outv[row], refv[k][row], atol=1e-6)


def test_resize_choice_frequencies_are_uniform():
    _, index = model.random_downsample(tf.zeros([4000, 4, 4, 1]), 2, seed=7)
    counts = np.bincount(_run(index), minlength=5) / 4000.0
    np.testing.assert_allclose(counts, 0.2, atol=0.03)
