"""Pooling of frozen endpoints before a linear probe, one rule per paper.

Counting averages conv1..conv5 with SAME windows [7, 6, 4, 4, 3] (``avg_pool_to_size`` or ``pool_window``);
revisiting max-pools every endpoint to at most 9000 features (``adaptive_pool_to_features``); Local
Aggregation average-pools layers above 200,000 features by 2 or 4 (``avg_pool_if_large``); anything else is
flattened.
"""
import math

import numpy as np

from common.tf1 import tf

__all__ = ["pool_window", "avg_pool_to_size", "adaptive_pool_to_features", "avg_pool_if_large", "flatten"]


def _spatial(x, data_format):
    """Static (H, W, C) of a rank-4 tensor."""
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError("pooling: data_format must be NHWC or NCHW, got %r" % data_format)
    shape = x.shape.as_list()
    if len(shape) != 4 or None in shape[1:]:
        raise ValueError("pooling: need a rank-4 tensor with static H, W, C, got %s for %s" % (shape, x.name))
    return tuple(shape[1:]) if data_format == "NHWC" else (shape[2], shape[3], shape[1])


def pool_window(x, window, mode="avg", padding="SAME", data_format="NHWC"):
    """Pool with a square ``window`` = stride (``avg`` over valid cells only, or ``max``); keeps the layout."""
    if mode not in ("avg", "max"):
        raise ValueError("pooling: mode must be 'avg' or 'max', got %r" % mode)
    pool = tf.nn.avg_pool if mode == "avg" else tf.nn.max_pool
    nhwc = x if data_format == "NHWC" else tf.transpose(x, [0, 2, 3, 1])
    out = pool(nhwc, [1, window, window, 1], [1, window, window, 1], padding)
    return out if data_format == "NHWC" else tf.transpose(out, [0, 3, 1, 2])


def avg_pool_to_size(x, size, data_format="NHWC"):
    """Average-pool (SAME, window = stride = ceil(H / size)) so that the map becomes ``size`` x ``size``."""
    h, w, _ = _spatial(x, data_format)
    window = int(math.ceil(h / float(size)))
    if h != w or int(math.ceil(h / float(window))) != size:
        raise ValueError("avg_pool_to_size: a %dx%d map of %s cannot be pooled to %dx%d with one window = stride"
                         % (h, w, x.name, size, size))
    return pool_window(x, window, "avg", "SAME", data_format)


def adaptive_pool_to_features(x, max_features=9000, mode="max", data_format="NHWC"):
    """Revisiting's rule: if H*W*C > ``max_features``, pool with window = stride =
    ceil(sqrt(H*W*C / max_features)) (clamped to [1, min(H, W)], VALID); rank-2 tensors pass through."""
    if x.shape.ndims == 2:
        return x
    h, w, c = _spatial(x, data_format)
    if h * w * c <= max_features:
        return x
    window = min(max(int(math.ceil(math.sqrt(h * w * c / float(max_features)))), 1), min(h, w))
    return pool_window(x, window, mode, "VALID", data_format)


def avg_pool_if_large(x, threshold=200000, data_format="NHWC"):
    """Local Aggregation's rule: F = H*W*C; if F > threshold average-pool (SAME) with window = stride 2,
    or 4 if F / 4 > threshold; otherwise unchanged."""
    if x.shape.ndims == 2:
        return x
    h, w, c = _spatial(x, data_format)
    features = h * w * c
    if features <= threshold:
        return x
    return pool_window(x, 4 if features / 4.0 > threshold else 2, "avg", "SAME", data_format)


def flatten(x):
    """``[B, ...]`` -> ``[B, prod(...)]`` (static feature size)."""
    dims = x.shape.as_list()[1:]
    if None in dims:
        raise ValueError("flatten: %s needs a static shape beyond the batch, got %s" % (x.name, dims))
    return tf.reshape(x, [-1, int(np.prod(dims))])
