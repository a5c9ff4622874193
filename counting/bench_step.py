"""The counting training step for ``python -m bench.step --step counting --model alexnet_counting``.

One tower of the release: a batch of ``--batch`` images (x/y halves), D(.) and the 2x2 tiles at half
``--image-size``, ten shared-weight passes, and the counting loss; ``--num-classes`` is ``logits_dim``.
"""
from bench.step import register_step
from counting.model import count_vectors, counting_loss, random_downsample, split_pairs, tiles

__all__ = ["counting_step"]


def counting_step(images, labels, args):
    """Counting loss of one tower batch ``images`` (labels unused), as in ``CountingModel.build_graph``."""
    x, y = split_pairs(images)
    half = args.image_size // 2
    views = [random_downsample(x, half)[0], random_downsample(y, half)[0]] + tiles(x) + tiles(y)
    phi = count_vectors(views, args.num_classes, args.model, args.data_format)
    return counting_loss(phi[0], phi[1], phi[2:6], phi[6:10])[0]


register_step("counting", counting_step)
