"""common.nce against an independent numpy computation."""
import numpy as np

from common.nce import nce_loss_parts, sample_noise_indices
from common.tf1 import tf


def _np_parts(p_data, p_noise, n, eps=1e-7):
    c = p_noise.shape[1] / n
    model = -np.sum(np.log(p_data / (p_data + c + eps))) / len(p_data)
    noise = -np.sum(np.log(c / (p_noise + c + eps))) / len(p_data)
    return model, noise


def test_nce_parts_match_numpy_on_random_inputs():
    rng = np.random.RandomState(0)
    p_data = rng.uniform(1e-8, 1e-4, size=7)
    p_noise = rng.uniform(1e-8, 1e-4, size=(7, 50))
    with tf.Graph().as_default(), tf.Session() as sess:
        got = sess.run(nce_loss_parts(tf.constant(p_data), tf.constant(p_noise), 1000))
    np.testing.assert_allclose(got, _np_parts(p_data, p_noise, 1000), rtol=1e-10)


def test_noise_indices_in_range_and_uniform():
    with tf.Graph().as_default(), tf.Session() as sess:
        idx = sess.run(sample_noise_indices(64, 500, 10, seed=1))
    assert idx.shape == (64, 500) and idx.dtype == np.int64
    assert idx.min() == 0 and idx.max() == 9
    counts = np.bincount(idx.ravel(), minlength=10)
    assert counts.min() > 0.9 * idx.size / 10
