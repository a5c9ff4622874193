"""Test helper: the counting release's network (its ``nets/alexnet.py``: TF-slim conv2d / max_pool2d /
fully_connected under ``alexnet_v2``, in the same creation order and names) with random weights, saved as its
phase 1 saves it: TensorPack's ``ModelSaver`` of every global variable (Adam slots, ``beta1_power``,
``beta2_power``, ``global_step`` and the ``lr_cnt`` learning-rate variable included)."""
import os

import numpy as np

from common.tf1 import tf

CONVS = (("conv1", 96, 11, 4), ("conv2", 256, 5, 1), ("conv3", 384, 3, 1), ("conv4", 384, 3, 1),
         ("conv5", 256, 3, 1))


def _layer(x, scope, shape, op):
    with tf.variable_scope(scope):
        w = tf.get_variable("weights", shape, initializer=tf.glorot_uniform_initializer())
        b = tf.get_variable("biases", shape[-1:], initializer=tf.zeros_initializer())
    return tf.nn.relu(tf.nn.bias_add(op(x, w), b))


def release_alexnet(images, logits_dim=None):
    """The release's ``alexnet``: [conv1..conv5] (+ [fc6, fc7, fc8] with ``logits_dim``), all after ReLU."""
    outs = []
    with tf.variable_scope("alexnet_v2", reuse=tf.AUTO_REUSE):
        x = images
        for name, out, k, stride in CONVS:
            x = _layer(x, name, [k, k, int(x.shape[-1]), out],
                       lambda t, w, s=stride: tf.nn.conv2d(t, w, [1, s, s, 1], "SAME"))
            outs.append(x)
            if name in ("conv1", "conv2"):
                x = tf.nn.max_pool(x, [1, 3, 3, 1], [1, 2, 2, 1], "SAME")
        if logits_dim:
            x = tf.nn.max_pool(x, [1, 3, 3, 1], [1, 2, 2, 1], "VALID")
            x = tf.reshape(x, [-1, int(np.prod(x.shape.as_list()[1:]))])
            for scope, units in (("fully_connected", 4096), ("fully_connected_1", 4096),
                                 ("fully_connected_2", logits_dim)):
                x = _layer(x, scope, [int(x.shape[-1]), units], tf.matmul)
                outs.append(x)
    return outs


def write_phase1_checkpoint(folder, images, logits_dim=128, seed=0, step=1251):
    """Phase 1's checkpoint ``folder/model-<step>`` of random weights; returns (prefix, conv5 of ``images``
    flattened, as the release computes it at phase 2 input size)."""
    rng = np.random.RandomState(seed)
    with tf.Graph().as_default():
        tf.get_variable("lr_cnt", initializer=1e-4, trainable=False)
        release_alexnet(tf.zeros([2, 128, 128, 3]), logits_dim)  # phase 1 sees 128 px inputs
        step_var = tf.train.get_or_create_global_step()
        tf.train.AdamOptimizer(1e-4).apply_gradients(
            [(tf.zeros_like(v), v) for v in tf.trainable_variables()], global_step=step_var)
        feed = tf.placeholder(tf.float32, [None] + list(images.shape[1:]))
        conv5 = release_alexnet(feed)[4]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for v in tf.trainable_variables():
                scale = 0.1 if v.op.name.endswith("biases") else np.sqrt(2.0 / np.prod(v.shape.as_list()[:-1]))
                v.load(rng.normal(0, scale, v.shape.as_list()).astype(np.float32), sess)
            step_var.load(step, sess)
            out = sess.run(conv5, {feed: images})
            prefix = tf.train.Saver().save(sess, os.path.join(folder, "model"), global_step=step)
    return prefix, out.reshape(len(images), -1)
