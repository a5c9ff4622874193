"""Test helper: the Local Aggregation release's ResNet (its ``model/resnet_model.py`` v2 and ``network_embedding``,
``tf.layers`` in the same creation order) with random weights, saved as the release saves it: a tfutils
checkpoint (``model_0/__var_copy_0/`` prefixes, momentum slots under ``__tfutils_opt__``) in a tar."""
import os
import tarfile

import numpy as np

from common.models.resnet import BLOCKS
from common.tf1 import tf

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _conv(x, filters, kernel, strides):
    if strides > 1:  # fixed_padding
        total = kernel - 1
        x = tf.pad(x, [[0, 0], [total // 2, total - total // 2], [total // 2, total - total // 2], [0, 0]])
    return tf.layers.conv2d(x, filters, kernel, strides, padding="SAME" if strides == 1 else "VALID",
                            use_bias=False, kernel_initializer=tf.variance_scaling_initializer())


def _bn(x):
    return tf.layers.batch_normalization(x, axis=3, momentum=0.997, epsilon=1e-5, center=True, scale=True,
                                         training=False, fused=True)


def release_embedding(images, depth=18):
    """``network_embedding`` of the release on 0..255 RGB ``images``: /255, mean/std, ResNet v2, dense 128, L2."""
    x = (images / 255.0 - tf.constant(MEAN)) / tf.constant(STD)
    bottleneck = depth >= 50
    with tf.variable_scope("resnet_model"):
        x = _conv(x, 64, 7, 2)
        x = tf.layers.max_pooling2d(x, 3, 2, padding="SAME")
        for i, units in enumerate(BLOCKS[depth]):
            filters = 64 * 2 ** i
            for u in range(units):
                stride = (1, 2, 2, 2)[i] if u == 0 else 1
                shortcut = x
                x = tf.nn.relu(_bn(x))
                if u == 0:
                    shortcut = _conv(x, filters * 4 if bottleneck else filters, 1, stride)
                if bottleneck:
                    x = tf.nn.relu(_bn(_conv(x, filters, 1, 1)))
                    x = tf.nn.relu(_bn(_conv(x, filters, 3, stride)))
                    x = _conv(x, 4 * filters, 1, 1)
                else:
                    x = tf.nn.relu(_bn(_conv(x, filters, 3, stride)))
                    x = _conv(x, filters, 3, 1)
                x = x + shortcut
        x = tf.nn.relu(_bn(x))
        x = tf.reduce_mean(x, [1, 2])
        x = tf.layers.dense(x, 128)
    return tf.nn.l2_normalize(x, axis=1)


def _randomise(sess, rng, step):
    for v in tf.global_variables():
        shape, name = v.shape.as_list(), v.op.name
        if name.endswith("global_step"):
            value = step
        elif name.endswith("moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("kernel") and len(shape) == 4:
            value = rng.normal(0, np.sqrt(2.0 / np.prod(shape[:3])), shape)
        elif v.dtype.base_dtype == tf.int64:
            value = rng.randint(0, 10, shape)
        else:
            value = rng.normal(0, 0.1, shape) + (1.0 if name.endswith("gamma") else 0.0)
        v.load(np.asarray(value).astype(v.dtype.base_dtype.as_numpy_dtype), sess)


def _scope(name, use):
    return tf.variable_scope(name if use else tf.get_variable_scope())


def write_release_tar(folder, images, depth=18, bank_rows=40, tfutils=True, seed=0, step=1901710):
    """Build the release graph, randomise it, save ``checkpoint-<step>`` and tar it; returns (tar path,
    the release network's embeddings of ``images``)."""
    rng = np.random.RandomState(seed)
    with tf.Graph().as_default():
        with _scope("model_0", tfutils):
            with _scope("__var_copy_0", tfutils):
                with tf.variable_scope("instance"):
                    tf.get_variable("all_labels", [bank_rows], tf.int64, tf.zeros_initializer(), trainable=False)
                    tf.get_variable("memory_bank", [bank_rows, 128], tf.float32, trainable=False)
                    tf.get_variable("cluster_labels", [2, bank_rows], tf.int64, tf.zeros_initializer(),
                                    trainable=False)
                feed = tf.placeholder(tf.float32, [None] + list(images.shape[1:]))
                embedding = release_embedding(feed, depth)
            tf.get_variable("global_step", [], tf.int64, tf.zeros_initializer(), trainable=False)
            with _scope("__tfutils_opt__", tfutils), _scope("__var_copy_0", tfutils):
                opt = tf.train.MomentumOptimizer(0.03, 0.9)
                opt.apply_gradients([(tf.zeros_like(v), v) for v in tf.trainable_variables()])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            _randomise(sess, rng, step)
            out = sess.run(embedding, {feed: images})
            path = tf.train.Saver().save(sess, os.path.join(folder, "checkpoint-%d" % step), write_meta_graph=False)
    tar_path = os.path.join(folder, "checkpoint-%d.tar" % step)
    with tarfile.open(tar_path, "w") as tar:
        for f in sorted(os.listdir(folder)):
            if f.startswith(os.path.basename(path) + "."):
                tar.add(os.path.join(folder, f), arcname=f)
    return tar_path, out
