"""Which backbone layer each transfer head reads and how it is pooled (the release's ``get_all_layers``).

Numeric keys name the ending points ``ending_point_<i>`` (ResNet, VGG); other keys pick the first endpoint
whose name contains them (AlexNet's ``conv1``..``conv5``). Pooling is ``common.eval.pooling.avg_pool_if_large``
(window 2 or 4 above 200,000 values), spatial by default; ``vgg_quirk`` reproduces the release's VGG read-out,
whose NCHW->NHWC transpose of an NHWC tensor pools over width and channels (README decision 11).
"""
import collections
import functools

from common.eval.pooling import avg_pool_if_large
from common.tf1 import tf

__all__ = ["endpoint_name", "layer_poolers", "quirk_pool"]


def endpoint_name(endpoints, key):
    """The endpoint name that layer ``key`` (e.g. ``"9"`` or ``"conv5"``) reads; one-line error otherwise."""
    key = str(key).strip()
    if key.isdigit() and "ending_point_%s" % key in endpoints:
        return "ending_point_%s" % key
    if not key.isdigit():
        for name in endpoints:
            if key in name:
                return name
    raise ValueError("get_all_layers: layer %r not found; this backbone has %s" % (key, ", ".join(endpoints)))


def quirk_pool(x, data_format="NHWC"):
    """The release's VGG pooling: transpose the NHWC tensor by (0, 2, 3, 1), then the 200,000 rule."""
    nhwc = x if data_format == "NHWC" else tf.transpose(x, [0, 2, 3, 1])
    return avg_pool_if_large(tf.transpose(nhwc, [0, 2, 3, 1]))


def layer_poolers(endpoints, keys, data_format="NHWC", vgg_quirk=False):
    """Ordered ``{endpoint name: pooling fn}`` for the layer ``keys`` of ``get_all_layers``."""
    pool = functools.partial(quirk_pool if vgg_quirk else avg_pool_if_large, data_format=data_format)
    return collections.OrderedDict((endpoint_name(endpoints, key), pool) for key in keys)
