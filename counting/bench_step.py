"""The counting training step for ``python -m bench.step --step counting --model alexnet_counting``.

One tower of the release: a batch of ``--batch`` images (x/y halves), D(.) and the 2x2 tiles at half
``--image-size``, ten shared-weight passes, and the counting loss; ``--num-classes`` is ``logits_dim``.
"""
from counting.model import counting_tower

__all__ = ["counting_step", "STEPS"]


def counting_step(images, labels, args):
    """Counting loss of one tower batch ``images`` (labels unused), as ``CountingModel`` builds it."""
    return counting_tower(images, args.num_classes, backbone=args.model, data_format=args.data_format)[0]


STEPS = {"counting": counting_step}  # read by bench.step through papers.py
