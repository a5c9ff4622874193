"""Prints, as JSON, how far a backbone's NCHW endpoints are from its NHWC ones (same weights, same images).

Run in a fresh process by ``test_model_numerics.py``: oneDNN's CPU NCHW kernels are what make NCHW run on this CPU build,
and they have been seen to abort or miscompute rarely (twice in our full test runs, never alone)."""
import json
import sys

import numpy as np

from common.tf1 import tf
from common.models import get_model


def layout_gaps(name, width, size, seed=0):
    """{endpoint: (max |NHWC - NCHW|, max |NHWC|)} over conv1, conv5, block4, pre_logits and logits."""
    x = np.random.RandomState(seed).randn(2, size, size, 3).astype(np.float32)
    with tf.Graph().as_default():
        tf.set_random_seed(seed)
        ends = {}
        for fmt in ("NHWC", "NCHW"):
            with tf.variable_scope("net", reuse=tf.AUTO_REUSE):
                ends[fmt] = get_model(name)(tf.constant(x), False, num_classes=7, data_format=fmt, width=width)
        keys = [k for k in ("conv1", "conv5", "block4", "pre_logits", "logits") if k in ends["NHWC"]]
        config = tf.ConfigProto(inter_op_parallelism_threads=1)
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            nhwc = sess.run([ends["NHWC"][k] for k in keys])
            nchw = sess.run([ends["NCHW"][k] for k in keys])
    gaps = {}
    for key, a, b in zip(keys, nhwc, nchw):
        if a.ndim == 4:
            b = b.transpose(0, 2, 3, 1)
        assert a.shape == b.shape, (key, a.shape, b.shape)
        gaps[key] = (float(np.abs(a - b).max()), float(np.abs(a).max()))
    return gaps


if __name__ == "__main__":
    print(json.dumps(layout_gaps(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))))
