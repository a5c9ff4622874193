"""The training step of a paper made from the template, for ``python -m bench.step --step <directory>``."""
from common.models import get_model
from common.tf1 import tf

__all__ = ["linear_step", "STEPS"]


def linear_step(images, labels, args):
    """Softmax cross-entropy of a linear layer on the ``pre_logits`` of the backbone ``args.model``."""
    ends = get_model(args.model)(images, True, data_format=args.data_format)
    logits = tf.layers.dense(tf.layers.flatten(ends["pre_logits"]), args.num_classes)
    return tf.losses.sparse_softmax_cross_entropy(labels, logits)


STEPS = {__name__.split(".")[0]: linear_step}  # read by bench.step through papers.py
