"""Weight decay: ``wd * sum(v**2) / 2`` terms in tf.GraphKeys.REGULARIZATION_LOSSES, summed per tower.

By default the decayed variables are the kernels (named ``.../W``); ``decays(name, trainable)`` picks others,
e.g. the Local Aggregation release's rule (every trainable variable whose name lacks ``batch_normalization``).
"""
import contextlib

from common.tf1 import tf


@contextlib.contextmanager
def kernel_weight_decay(weight_decay, decays=lambda name, trainable: name.endswith("/W")):
    """Add ``weight_decay * l2_loss(v)`` for every variable fetched inside the block that ``decays(name, trainable)``
    selects (default: the kernels, variables named ``.../W``).

    Works for created and reused variables alike (one term per kernel per call), so each tower of a multi-tower
    trainer gets its own terms under its own name scope.
    """
    kernels = {}

    def getter(getter, *args, **kwargs):
        var = getter(*args, **kwargs)
        name = kwargs.get("name", args[0] if args else "")
        if decays(name, kwargs.get("trainable", True) is not False):
            kernels.setdefault(name, var)
        return var

    with tf.variable_scope(tf.get_variable_scope(), custom_getter=getter, auxiliary_name_scope=False):
        yield
    if weight_decay and kernels:
        with tf.name_scope("weight_decay"):
            for name, var in kernels.items():
                term = tf.multiply(float(weight_decay), tf.nn.l2_loss(var), name=name.replace("/", "_"))
                tf.add_to_collection(tf.GraphKeys.REGULARIZATION_LOSSES, term)


def regularization_loss():
    """Sum of the REGULARIZATION_LOSSES created under the current name scope (a scalar tensor, 0.0 if none)."""
    scope = tf.get_default_graph().get_name_scope()
    prefix = scope + "/" if scope else ""
    terms = [t for t in tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES) if t.name.startswith(prefix)]
    if not terms:
        return tf.constant(0.0, name="regularization_loss")
    return tf.add_n(terms, name="regularization_loss")
