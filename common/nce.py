"""Noise-contrastive estimation against a memory bank with uniform noise (Wu et al. 2018).

Shared by instance discrimination (``instance_disc``) and Instance Recognition (``local_aggregation``):
the noise distribution is uniform over the N bank entries, so P_n = 1/N and, with K noise samples per
data sample, c = K * P_n = K / N.
"""
from common.tf1 import tf

__all__ = ["nce_loss_parts", "sample_noise_indices", "exp_scores"]


def nce_loss_parts(p_data, p_noise, n_data, eps=1e-7):
    """NCE loss split into its data and noise parts.

    ``p_data`` is ``[B]`` (the unnormalised probability of each sample's own entry), ``p_noise`` is
    ``[B, K]``. Returns ``(loss_model, loss_noise)`` with
    ``loss_model = -sum_i log(p_i / (p_i + c + eps)) / B`` and
    ``loss_noise = -sum_ik log(c / (p_ik + c + eps)) / B``, ``c = K / n_data``.
    """
    p_data = tf.convert_to_tensor(p_data)
    p_noise = tf.convert_to_tensor(p_noise, dtype=p_data.dtype)
    k = tf.cast(tf.shape(p_noise)[1], p_data.dtype)
    c = k / tf.cast(n_data, p_data.dtype)
    batch = tf.cast(tf.shape(p_data)[0], p_data.dtype)
    ln_data = tf.log(p_data / (p_data + c + eps))
    ln_noise = tf.log(c / (p_noise + c + eps))
    loss_model = -tf.reduce_sum(ln_data) / batch
    loss_noise = -tf.reduce_sum(ln_noise) / batch
    return loss_model, loss_noise


def exp_scores(dots, t, z):
    """``exp(dots / t) / z``: the unnormalised non-parametric softmax of bank dot products."""
    return tf.exp(dots / t) / z


def sample_noise_indices(batch_size, k, n_data, seed=None):
    """``[batch_size, k]`` int64 indices drawn uniformly with replacement from ``[0, n_data)``."""
    return tf.random_uniform([batch_size, k], minval=0, maxval=n_data, dtype=tf.int64, seed=seed)
