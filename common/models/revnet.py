"""RevNet-50 (Gomez et al. 2017) as the revisiting release builds it (its ``models/revnet.py``); registered as "revnet50".

Additive coupling units y1 = x1 + F(x2), output concat([x2, y1]) (the swap alternates the updated half),
F = a pre-activation bottleneck without shortcut; channel-doubling transitions by average pooling and zero
padding. A plain forward pass (activations stored, no recomputation), as in the release.
``width`` = filters_factor / 4: width 1 has 256 channels after the root and pre_logits 2048.
"""
from tensorpack import AvgPooling, BatchNorm, BNReLU, Conv2D, MaxPooling, argscope

from common.tf1 import tf
from common.models.layers import channels, data_format_of_scope, fixed_padding
from common.models.registry import register

# revisiting's filters_factor k in {1, 2, 4, 8, 12, 16} (4 = standard) is width k / 4
REVNET_WIDTHS = (0.25, 0.5, 1, 2, 3, 4)
NUM_UNITS = (3, 4, 6, 3)


def _channel_axis():
    return 1 if data_format_of_scope() == "NCHW" else 3


def _conv(name, x, filters, kernel, stride=1):
    """Bias-free conv with fixed padding (k > 1) and VALID padding, as the release's ``conv2d_fixed_padding``."""
    if kernel > 1:
        x = fixed_padding(x, kernel)
    return Conv2D(name, x, filters, kernel, strides=stride, padding="VALID")


def _root_projection(x, filters, stride):
    """7x7 root conv without weight decay (its kernel is not named ``W``, so the registry adds no L2 term)."""
    with tf.variable_scope("root_conv"):
        kernel = tf.get_variable("kernel", [7, 7, x.shape.as_list()[_channel_axis()], filters],
                                 initializer=tf.glorot_uniform_initializer())
    fmt = data_format_of_scope()
    strides = [1, 1, stride, stride] if fmt == "NCHW" else [1, stride, stride, 1]
    return tf.nn.conv2d(fixed_padding(x, 7), kernel, strides, "VALID", data_format=fmt)


def _residual(x):
    """F: pre-activation bottleneck without shortcut on one half (C/2 channels in and out, C/8 inner)."""
    out = x.shape.as_list()[_channel_axis()]
    h = _conv("conv1", BNReLU("bn1", x), out // 4, 1)
    h = _conv("conv2", BNReLU("bn2", h), out // 4, 3)
    return _conv("conv3", BNReLU("bn3", h), out, 1)


def _unit(x):
    axis = _channel_axis()
    x1, x2 = tf.split(x, 2, axis=axis)
    return tf.concat([x2, x1 + _residual(x2)], axis=axis)


def _pool_and_double_channels(x, stride):
    if stride > 1:
        x = AvgPooling("pool", x, stride, strides=stride, padding="SAME")
    axis = _channel_axis()
    half = x.shape.as_list()[axis] // 2
    pads = [[0, 0]] * 4
    pads[axis] = [half, half]
    return tf.pad(x, pads)


@register("revnet50", widths=REVNET_WIDTHS)
def revnet50(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1,
             root_conv_stride=2, strides=(2, 2, 2), last_relu=False, include_root_block=True):
    """RevNet-50 endpoints ``after_root``, ``block1``..``block4``, ``pre_logits`` [N, C] and, with
    ``num_classes``, ``logits`` [N, num_classes] (1x1 conv with bias on the pooled map).

    Patch tasks use ``root_conv_stride=1, strides=(2, 2, 1)``; BN momentum 0.99, epsilon 1e-3 (TF defaults).
    """
    ends = {}
    with argscope(BatchNorm, momentum=0.99, epsilon=1e-3), \
            argscope(Conv2D, use_bias=False, kernel_initializer=tf.glorot_uniform_initializer()):
        x = _root_projection(images, channels(256, width), root_conv_stride)
        if include_root_block:
            x = MaxPooling("root_pool", fixed_padding(x, 3), 3, strides=2, padding="VALID")
        ends["after_root"] = x
        for block, (units, stride) in enumerate(zip(NUM_UNITS, (1,) + tuple(strides)), start=1):
            with tf.variable_scope("block%d" % block):
                if block > 1:
                    x = _pool_and_double_channels(x, stride)
                for unit in range(1, units + 1):
                    with tf.variable_scope("unit%d" % unit):
                        x = _unit(x)
            ends["block%d" % block] = x
        x = BatchNorm("final_bn", x)
        if last_relu:
            x = tf.nn.relu(x)
        spatial = [2, 3] if data_format == "NCHW" else [1, 2]
        pooled = tf.reduce_mean(x, spatial, keepdims=True)
        ends["pre_logits"] = tf.squeeze(pooled, spatial)
        if num_classes:
            logits = Conv2D("logits", pooled, num_classes, 1, use_bias=True)
            ends["logits"] = tf.squeeze(logits, spatial)
    return ends
