"""The release's optimizer factory and its non-trainable learning-rate variable (spec 4.6)."""
from common.tf1 import tf

__all__ = ["learning_rate_variable", "make_optimizer"]


def learning_rate_variable(name, value):
    """The scalar LR variable (``lr_cnt`` / ``lr_cls``) in the root scope, set by the schedule callback."""
    with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
        lr = tf.get_variable(name, initializer=float(value), trainable=False)
    tf.summary.scalar("opt/lr", lr)
    return lr


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
