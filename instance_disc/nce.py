"""Instance-discrimination objectives against a memory bank: NCE with a frozen Z, full softmax, Softmax-CE.

Every objective reads bank rows as constants (no gradient into the bank, Z or the indices); the bank
itself is updated after the train op by ``common.memory_bank.MemoryBank.update_op``, and Z is frozen there too.
"""
from common.nce import exp_scores, nce_loss_parts, sample_noise_indices
from common.tf1 import tf

__all__ = ["OBJECTIVES", "nce_loss", "bank_dots", "normalization_constant", "freeze_z_op", "nce_scores",
           "full_softmax_loss", "softmax_ce_loss", "sample_bank_indices", "instance_loss"]

OBJECTIVES = ("nce", "softmax", "softmax_ce")


def nce_loss(scores, n_data, eps=1e-7):
    """NCE loss of ``scores`` ``[B, K+1]`` (positive in column 0): sum over the K+1 terms, mean over B."""
    scores = tf.convert_to_tensor(scores)
    loss_model, loss_noise = nce_loss_parts(scores[:, 0], scores[:, 1:], n_data, eps)
    return tf.add(loss_model, loss_noise, name="nce_loss")


def bank_dots(features, rows):
    """``[B, K+1]`` dot products of each feature ``[B, D]`` with its own bank rows ``[B, K+1, D]``."""
    return tf.squeeze(tf.matmul(rows, tf.expand_dims(features, 2)), axis=2)


def normalization_constant(z_var, exp_dots, n_data, estimates=None):
    """Z: ``z_var`` once set (>= 0), else this batch's estimate ``N * mean(exp_dots)``; the ``[1]`` estimate is
    appended to the list ``estimates`` when one is given (``freeze_z_op`` stores one estimate of the global batch)."""
    estimate = tf.reshape(tf.cast(n_data, exp_dots.dtype) * tf.reduce_mean(tf.stop_gradient(exp_dots)), [1],
                          name="nce_z_estimate")
    if estimates is not None:
        estimates.append(estimate)
    z = tf.cond(z_var < 0, lambda: estimate[0], lambda: tf.cast(tf.identity(z_var), exp_dots.dtype))
    return tf.stop_gradient(z)


def freeze_z_op(z_var, estimates):
    """Set ``z_var`` to the mean of ``estimates``, the towers' estimates (equal sub-batches: the global batch's
    estimate, as the release's one estimate from its whole first batch) if it is still unset (< 0)."""
    estimate = tf.cast(tf.reduce_mean(estimates), z_var.dtype)
    return tf.assign(z_var, tf.where(z_var < 0, estimate, z_var), name="freeze_z").op


def nce_scores(features, rows, t, z_var, n_data, estimates=None):
    """``P = exp(v.f / T) / Z``, ``[B, K+1]``; ``rows`` are treated as constants; Z from ``normalization_constant``."""
    dots = bank_dots(features, tf.stop_gradient(rows))
    z = normalization_constant(z_var, tf.exp(dots / t), n_data, estimates)
    return exp_scores(dots, t, z)


def full_softmax_loss(features, memory, indices, t):
    """Cross-entropy of the N-way logits ``f . M^T / T`` with the instance index as the target class."""
    logits = tf.matmul(features, tf.stop_gradient(memory), transpose_b=True) / t
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=indices, logits=logits),
                          name="softmax_loss")


def softmax_ce_loss(features, rows, t):
    """Softmax-CE (InfoNCE) over ``[B, K+1]`` logits ``v.f / T`` with the positive (column 0) as target."""
    logits = bank_dots(features, tf.stop_gradient(rows)) / t
    labels = tf.zeros_like(logits[:, 0], dtype=tf.int64)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits),
                          name="softmax_ce_loss")


def sample_bank_indices(indices, k, n_data, seed=None):
    """``[B, K+1]`` bank indices: column 0 the batch's own ``indices``, then K uniform draws (repeats kept)."""
    indices = tf.cast(indices, tf.int64)
    noise = sample_noise_indices(tf.shape(indices)[0], k, n_data, seed=seed)
    return tf.concat([tf.expand_dims(indices, 1), noise], axis=1, name="bank_indices")


def instance_loss(objective, features, indices, bank, k, t, z_var=None, seed=None, z_estimates=None):
    """The training loss of ``objective`` (one of ``OBJECTIVES``) for L2-normalised ``features`` ``[B, D]``.

    ``bank`` is a ``common.memory_bank.MemoryBank`` (read only here; its ``gather`` checks the indices),
    ``k`` the number of sampled negatives (unused by the full softmax), ``z_var`` the scalar Z (NCE only; this
    batch's ``[1]`` estimate of Z is appended to the list ``z_estimates`` when one is given).
    """
    if objective not in OBJECTIVES:
        raise ValueError("unknown objective %r; choose one of %s" % (objective, ", ".join(OBJECTIVES)))
    if objective == "softmax":
        positive = bank.gather(indices)  # range check only: the logits below hold every row
        with tf.control_dependencies([positive]):
            return full_softmax_loss(features, bank.var, tf.cast(indices, tf.int64), t)
    rows = bank.gather(sample_bank_indices(indices, k, bank.size, seed=seed))
    if objective == "softmax_ce":
        return softmax_ce_loss(features, rows, t)
    return nce_loss(nce_scores(features, rows, t, z_var, bank.size, z_estimates), bank.size)
