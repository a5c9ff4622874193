"""``python -m bench.step --step classify --model resnet50 --batch 256``: one supervised training step.

The backbone's ``logits``, softmax cross-entropy and weight decay 1e-4, as ``classification/train.py`` trains
it on synthetic input: the reference ResNet-50 step of the GPU check.
"""
from common.models import get_model, regularization_loss
from common.tf1 import tf

__all__ = ["classify_step", "STEPS"]


def classify_step(images, labels, args):
    """Softmax cross-entropy of ``args.model``'s logits on ``images`` plus L2 (1e-4)."""
    ends = get_model(args.model)(images, True, num_classes=args.num_classes, data_format=args.data_format,
                                 weight_decay=1e-4)
    return tf.losses.sparse_softmax_cross_entropy(labels, ends["logits"]) + regularization_loss()


STEPS = {"classify": classify_step}  # read by bench.step through papers.py
