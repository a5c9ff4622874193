"""A tiny release for the zoo tool's tests: a "published" .npz holding a PyTorch-style linear weight
``[dim, 8*8*3]``; the representation is the L2-normalised linear map of the 8x8 RGB image in [0, 1]."""
import contextlib

import numpy as np
from PIL import Image

from common.tf1 import tf
from common.weights.layouts import linear_to_dense
from common.weights.mapping import assign_exactly
from common.weights.tf_checkpoint import write_checkpoint

RELEASE = "fake"
SIZE = 8
MODELS = [{"model": "linear-8px", "file": "fake.npz", "format": "numpy .npz", "reported": "12.3% top-1",
           "protocol": "kNN k=200", "command": "python -m zoo features DIR IMAGES --out f.npy"}]


def convert(src, out_dir):
    """The .npz's ``weight`` [out, in] -> ``embed/W`` [in, out]; ``step`` is ignored."""
    with np.load(src) as f:
        source = {k: f[k] for k in f.files}
    arrays = assign_exactly(source, {"embed/W": ("weight", linear_to_dense)}, ignore=["step"])
    write_checkpoint(arrays, out_dir + "/model")
    return {"architecture": "linear", "input": {"layout": "NHWC", "size": SIZE, "channel_order": "RGB"},
            "class_order": None, "name_map": {"weight": "embed/W"}, "dim": int(source["weight"].shape[0])}


def preprocess(path):
    """An image file -> [8, 8, 3] float32 in [0, 1]."""
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB").resize((SIZE, SIZE)), np.float32) / 255.0


def reference(images, weight):
    """The representation in numpy: rows of ``normalise(images.reshape(n, -1) @ weight.T)``."""
    y = images.reshape(len(images), -1).astype(np.float64) @ weight.T.astype(np.float64)
    return y / np.linalg.norm(y, axis=1, keepdims=True)


@contextlib.contextmanager
def feature_extractor(model_dir, meta):
    """The TF graph of the model restored from ``model_dir``: yields ``fn(batch) -> [n, dim]``."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, SIZE, SIZE, 3])
        w = tf.get_variable("embed/W", [SIZE * SIZE * 3, meta["dim"]])
        y = tf.nn.l2_normalize(tf.matmul(tf.reshape(x, [-1, SIZE * SIZE * 3]), w), axis=1)
        with tf.Session() as sess:
            tf.train.Saver([w]).restore(sess, tf.train.latest_checkpoint(model_dir))
            yield lambda batch: sess.run(y, {x: batch})
