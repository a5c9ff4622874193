"""The release's optimizer factory (``nets/model.py``) and learning-rate schedules (``utils/lr_scheduler.py``).

Schedules are ``common.schedules.EpochSchedule`` objects over ``common.schedules.polynomial`` points: the pair
``(e, v)`` sets the rate after epoch ``e`` (``e = 0``: before epoch 1); the rate variable is the release's
``--learning_rate_var_name`` (``lr_cnt`` / ``lr_cls``) with the TensorBoard scalar ``opt/lr``, as in the release.
"""
from common.schedules import EpochSchedule, polynomial
from common.tf1 import tf

__all__ = ["make_optimizer", "release_schedule", "counting_lr_schedule", "classifier_lr_schedule"]


def make_optimizer(name, lr):
    """``momentum`` (0.9, Nesterov), ``adam`` (TF1 defaults), ``adadelta``, ``rms`` (momentum 0.5) or ``gd``."""
    if name == "momentum":
        return tf.train.MomentumOptimizer(lr, 0.9, use_nesterov=True)
    if name == "adam":
        return tf.train.AdamOptimizer(lr)
    if name == "adadelta":
        return tf.train.AdadeltaOptimizer(lr)
    if name == "rms":
        return tf.train.RMSPropOptimizer(lr, momentum=0.5)
    if name == "gd":
        return tf.train.GradientDescentOptimizer(lr)
    raise ValueError("--opt %s: valid optimizers are momentum, adam, gd, rms, adadelta" % name)


def counting_lr_schedule(epochs, base_lr, tail_epochs=100, end_lr=1e-7, power=1.0):
    """Phase 1: constant ``base_lr``, then a polynomial decay to ``end_lr`` over the last ``tail_epochs``
    (the release: 250 epochs, linear decay from 1e-4 over epochs 151-250)."""
    return polynomial(base_lr, end_lr, max(0, epochs - tail_epochs), epochs, power)


def classifier_lr_schedule(epochs, base_lr, end_lr=1e-9, power=2.0):
    """Phase 2: polynomial (power 2) decay from ``base_lr`` towards ``end_lr`` over all ``epochs``."""
    return polynomial(base_lr, end_lr, 0, epochs, power)


def release_schedule(points, base_lr, lr_var_name):
    """The schedule object of ``points`` on the release's rate variable ``lr_var_name`` (scalar ``opt/lr``)."""
    return EpochSchedule(base_lr, points, name=lr_var_name, summary="opt/lr")
