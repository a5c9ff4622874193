"""Learning-rate schedule pieces shared by the papers, and the learning-rate variable an optimizer reads.

Epoch schedules are ``[(epoch, lr), ...]`` pairs for TensorPack's ``ScheduledHyperParamSetter``: the pair
``(e, v)`` puts ``v`` in place once epoch ``e`` has finished (``e = 0``: before the first epoch). A rate that a
release applies from its 0-based epoch ``k`` on (PyTorch's ``lr * 0.1 ** (epoch // k)``) is the pair ``(k, v)``.
With ``interp="linear"`` the setter interpolates between pairs (warm-ups); ``step_based=True`` reads steps.
"""
import math

from common.tf1 import tf

__all__ = ["piecewise", "linear_warmup", "polynomial", "cosine", "value_during", "learning_rate_variable"]


def piecewise(base, boundaries, factor=0.1):
    """``base * factor ** (i + 1)`` from boundary ``i`` on: ``[(b_0, base * factor), (b_1, base * factor**2), ...]``."""
    return [(int(b), base * factor ** (i + 1)) for i, b in enumerate(sorted(boundaries))]


def linear_warmup(start, peak, length):
    """Points of a linear rise from ``start`` at 0 to ``peak`` at ``length`` (use with ``interp="linear"``)."""
    return [(0, float(start)), (int(length), float(peak))]


def polynomial(base, end, first, last, power=1.0):
    """``(base - end) * (1 - (i - first) / (last - first)) ** power + end`` for i in [first, last)."""
    span = float(last - first)
    return [(i, (base - end) * (1.0 - (i - first) / span) ** power + end) for i in range(first, last)]


def cosine(t, total, peak, alpha=0.0):
    """Cosine decay at ``t`` of ``total`` (Keras' ``CosineDecay``): ``peak * ((1 - alpha) * c + alpha)``, with
    ``c = (1 + cos(pi * min(t, total) / total)) / 2``."""
    c = 0.5 * (1.0 + math.cos(math.pi * min(float(t), total) / total))
    return peak * ((1.0 - alpha) * c + alpha)


def value_during(schedule, epoch, initial):
    """The rate in use during 1-based ``epoch`` under ``schedule`` (no interpolation), ``initial`` before any pair."""
    value = initial
    for e, v in sorted(schedule):
        if e < epoch:
            value = v
    return value


def learning_rate_variable(initial, name="learning_rate", summary="learning_rate-summary"):
    """The non-trainable scalar ``name`` (reused if it exists) that the schedule callback sets, and its summary
    (TensorPack shows ``learning_rate-summary`` as ``learning_rate``; a tag equal to the op name gets a suffix)."""
    with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
        lr = tf.get_variable(name, initializer=float(initial), trainable=False)
    if summary:
        tf.summary.scalar(summary, lr)
    return lr
