"""Test helper: a TF1 Hub module written as the revisiting release writes one, with random weights.

The trunks follow the release's ``models/resnet.py`` and ``models/vggnet.py`` (``resnet50`` v1/v2, ``revnet50``,
``vgg19``; ``tf.layers`` at the top level of the module graph, so the variables are named ``conv2d``,
``conv2d_1``, ..., ``batch_normalization``, ... in creation order; BN ``fused=True`` with the TF defaults, fixed
padding, the 1x1 conv logits with bias).
The module directory holds what ``hub.create_module_spec(..., [({"is_training"}, training), (set(),
inference)])`` exports: one SavedModel with the training graph under the tag ``is_training`` and the inference
graph untagged, both with the signatures ``default`` ({"image"} -> {"default": logits}) and ``representation``
({"image"} -> the endpoints), the variables without the ``module/`` scope, and ``tfhub_module.pb``
(``ModuleDef{format: FORMAT_V3}``).
"""
import os
import tarfile

import numpy as np

from common.tf1 import tf

HUB_MODULE_DEF = b"\x08\x03"  # tensorflow_hub.ModuleDef, field 1 (format) = FORMAT_V3 (3)


def _pad(x, k):
    total = k - 1
    return tf.pad(x, [[0, 0], [total // 2, total - total // 2], [total // 2, total - total // 2], [0, 0]])


def _bn(x, training):
    return tf.layers.batch_normalization(x, fused=True, training=training)


def _conv(x, filters, k, strides=1, padding="SAME"):
    return tf.layers.conv2d(x, filters=filters, kernel_size=k, strides=strides, use_bias=False, padding=padding)


def _unit_v1(x, filters, training, strides):
    shortcut = x
    if strides > 1 or filters != x.shape[-1]:
        shortcut = _bn(_conv(x, filters, 1, strides), training)
    x = tf.nn.relu(_bn(_conv(x, filters // 4, 1), training))
    x = tf.nn.relu(_bn(_conv(_pad(x, 3), filters // 4, 3, strides, "VALID"), training))
    x = _bn(_conv(x, filters, 1), training)
    return tf.nn.relu(shortcut + x)


def _unit_v2(x, filters, training, strides):
    shortcut = x
    x = tf.nn.relu(_bn(x, training))
    if strides > 1 or filters != x.shape[-1]:
        shortcut = _conv(x, filters, 1, strides, "VALID")
    x = _conv(x, filters // 4, 1)
    x = tf.nn.relu(_bn(x, training))
    x = _conv(_pad(x, 3), filters // 4, 3, strides, "VALID")
    x = tf.nn.relu(_bn(x, training))
    return _conv(x, filters, 1) + shortcut


def _head(x, training, num_classes, ends, final_bn, last_relu):
    """The release's trunk end: [BN, ReLU when last_relu], global average pool (``pre_logits``), 1x1-conv logits."""
    if final_bn:
        x = _bn(x, training)
        x = tf.nn.relu(x) if last_relu else x
    x = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    ends["pre_logits"] = tf.squeeze(x, [1, 2])
    ends["logits"] = tf.squeeze(tf.layers.conv2d(x, filters=num_classes, kernel_size=1), [1, 2])
    return ends["logits"], ends


def release_resnet50(x, training, num_classes, filters_factor=4, mode="v2", last_relu=True, root_conv_stride=2,
                     strides=(2, 2, 2)):
    """(logits, endpoints) of the release's ``resnet50`` (v1 or v2)."""
    unit = _unit_v2 if mode == "v2" else _unit_v1
    ends = {}
    filters = 16 * filters_factor
    x = _conv(_pad(x, 7), filters, 7, root_conv_stride, "VALID")
    if mode == "v1":
        x = tf.nn.relu(_bn(x, training))
    x = tf.layers.max_pooling2d(_pad(x, 3), pool_size=3, strides=2, padding="VALID")
    ends["after_root"] = x
    filters *= 4
    for block, (count, stride) in enumerate(zip((3, 4, 6, 3), (1,) + tuple(strides))):
        if block:
            filters *= 2
        for u in range(count):
            x = unit(x, filters, training, stride if u == 0 else 1)
        ends["block%d" % (block + 1)] = x
    return _head(x, training, num_classes, ends, final_bn=mode == "v2", last_relu=last_relu)


def _unit_rev(x, training):
    """The release's ``bottleneck_rev``: y1 = x1 + F(x2) with F its v2 bottleneck without shortcut; [x2, y1]."""
    x1, x2 = tf.split(x, 2, 3)
    channels = int(x2.shape[-1])
    h = _conv(tf.nn.relu(_bn(x2, training)), channels // 4, 1)
    h = _conv(_pad(tf.nn.relu(_bn(h, training)), 3), channels // 4, 3, 1, "VALID")
    h = _conv(tf.nn.relu(_bn(h, training)), channels, 1)
    return tf.concat([x2, x1 + h], axis=3)


def _pool_and_double(x, stride):
    if stride > 1:
        x = tf.layers.average_pooling2d(x, pool_size=stride, strides=stride, padding="SAME")
    half = int(x.shape[3]) // 2
    return tf.pad(x, [[0, 0], [0, 0], [0, 0], [half, half]])


def release_revnet50(x, training, num_classes, filters_factor=4, last_relu=True, root_conv_stride=2,
                     strides=(2, 2, 2)):
    """(logits, endpoints) of the release's ``revnet50`` (root conv of 4 x 16 x filters_factor channels)."""
    ends = {}
    x = _conv(_pad(x, 7), 64 * filters_factor, 7, root_conv_stride, "VALID")
    x = ends["after_root"] = tf.layers.max_pooling2d(_pad(x, 3), pool_size=3, strides=2, padding="VALID")
    for block, count in enumerate((3, 4, 6, 3)):
        for _ in range(count):
            x = _unit_rev(x, training)
        ends["block%d" % (block + 1)] = x
        if block < 3:
            x = _pool_and_double(x, strides[block])
    return _head(x, training, num_classes, ends, final_bn=True, last_relu=last_relu)


def _convbnrelu(x, filters, size, training, padding):
    x = tf.layers.conv2d(x, kernel_size=size, filters=filters, use_bias=False, padding=padding)
    return tf.nn.relu(tf.layers.batch_normalization(x, fused=True, training=training))


def release_vgg19(x, training, num_classes, filters_factor=8):
    """(logits, endpoints) of the release's ``vgg19`` (conv-BN-ReLU everywhere; fc6 spans the pool5 map)."""
    ends = {}
    w = 8 * filters_factor
    for block, (count, mult) in enumerate(zip((2, 2, 4, 4, 4), (1, 2, 4, 8, 8))):
        for _ in range(count):
            x = _convbnrelu(x, mult * w, 3, training, "same")
        ends["block%d" % (block + 1)] = x
        x = tf.layers.max_pooling2d(x, pool_size=2, strides=2)
    x = ends["fc6"] = _convbnrelu(x, 512 * filters_factor, x.get_shape().as_list()[-3:-1], training, "valid")
    x = ends["pre_logits"] = _convbnrelu(x, 512 * filters_factor, (1, 1), training, "valid")
    ends["logits"] = tf.squeeze(tf.layers.conv2d(x, kernel_size=1, filters=num_classes, use_bias=True), [1, 2])
    return ends["logits"], ends


def _signatures(image, logits, ends):
    info = tf.saved_model.utils.build_tensor_info
    inputs = {"image": info(image)}
    return {"default": tf.saved_model.signature_def_utils.build_signature_def(inputs, {"default": info(logits)}),
            "representation": tf.saved_model.signature_def_utils.build_signature_def(
                inputs, {k: info(v) for k, v in ends.items()})}


def _random_values(variables, rng):
    """Random values for every variable; BN variances positive, gammas around 1 (non-trivial statistics)."""
    values = {}
    for v in variables:
        shape = v.shape.as_list()
        name = v.op.name
        if name.endswith("moving_variance"):
            values[v] = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("gamma"):
            values[v] = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("kernel"):
            fan_in = float(np.prod(shape[:-1]))
            values[v] = rng.normal(0.0, 0.5 / np.sqrt(fan_in), shape)  # keeps activations O(1)
        else:
            values[v] = rng.normal(0.0, 0.1, shape)
    return {v: a.astype(np.float32) for v, a in values.items()}


def write_hub_module(module_dir, input_shape=(None, 224, 224, 3), seed=0, num_classes=4, net=None, **net_options):
    """Write a release-style Hub module of ``net(**net_options)`` (default ``release_resnet50``) with random
    weights; returns ``module_dir``."""
    net = net or release_resnet50
    builder = tf.saved_model.builder.SavedModelBuilder(module_dir)
    rng = np.random.RandomState(seed)
    values = None
    for tags, training in ((["is_training"], True), ([], False)):
        with tf.Graph().as_default():
            image = tf.placeholder(tf.float32, list(input_shape))
            logits, ends = net(image, training, num_classes, **net_options)
            signatures = _signatures(image, logits, ends)
            if values is None:
                with tf.Session() as sess:
                    values = {v.op.name: a for v, a in _random_values(tf.global_variables(), rng).items()}
                    for v in tf.global_variables():
                        v.load(values[v.op.name], sess)
                    builder.add_meta_graph_and_variables(sess, tags, signature_def_map=signatures)
            else:
                builder.add_meta_graph(tags, signature_def_map=signatures)
    builder.save()
    with open(os.path.join(module_dir, "tfhub_module.pb"), "wb") as f:
        f.write(HUB_MODULE_DEF)
    return module_dir


def tar_module(module_dir, path):
    """``module_dir``'s files as a ``.tar.gz`` whose root is the module (as tfhub.dev serves them)."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(module_dir, arcname=".")
    return path


def release_representation(module_dir, images, key="pre_logits"):
    """Run the module's untagged graph (as ``hub.Module`` does by default) on ``images``: the ``representation``
    signature's ``key`` output."""
    with tf.Graph().as_default(), tf.Session() as sess:
        meta = tf.saved_model.loader.load(sess, [], module_dir)
        sig = meta.signature_def["representation"]
        return sess.run(sig.outputs[key].name, {sig.inputs["image"].name: images})
