"""Layer helpers shared by the backbones (TensorPack style): channel scaling, padding, LRN, BN activations, heads."""
import numpy as np
from tensorpack import BatchNorm, Dropout, FullyConnected
from tensorpack.tfutils.argscope import get_arg_scope

from common.tf1 import tf


def data_format_of_scope():
    """The data format set by the registry's argscope ("NHWC" or "NCHW")."""
    return get_arg_scope()["Conv2D"].get("data_format", "NHWC")


def channels(base, width):
    """``base`` channels scaled by the width factor, rounded to an integer (at least 1)."""
    return max(1, int(round(base * width)))


def spatial_size(x):
    """(height, width) of a 4-D tensor in the current data format."""
    shape = x.shape.as_list()
    return tuple(shape[2:4]) if data_format_of_scope() == "NCHW" else tuple(shape[1:3])


def pad_spatial(x, before, after=None):
    """Zero-pad height and width by ``before`` pixels in front and ``after`` (default: ``before``) behind."""
    after = before if after is None else after
    pads = [[0, 0], [0, 0], [before, after], [before, after]]
    if data_format_of_scope() == "NHWC":
        pads = [pads[0], pads[2], pads[3], pads[1]]
    return tf.pad(x, pads)


def fixed_padding(x, kernel_size):
    """TF-official "fixed padding": pad k-1 pixels in total (floor half in front), independent of input parity."""
    total = kernel_size - 1
    return pad_spatial(x, total // 2, total - total // 2)


def lrn(x, name):
    """Caffe-equivalent local response normalisation (radius 2, bias 1, alpha 2e-5, beta 0.75) in either layout."""
    nchw = data_format_of_scope() == "NCHW"
    if nchw:
        x = tf.transpose(x, [0, 2, 3, 1])
    x = tf.nn.lrn(x, depth_radius=2, bias=1.0, alpha=2e-5, beta=0.75, name=name)
    return tf.transpose(x, [0, 3, 1, 2]) if nchw else x


def bn(x, name=None):
    """BatchNorm as a conv ``activation`` (variables under ``<layer>/bn``), no nonlinearity."""
    return tf.identity(BatchNorm("bn", x), name=name)


def bn_zero_init(x, name=None):
    """BatchNorm with gamma initialised to zero (last BN of a residual branch, Goyal et al.)."""
    return tf.identity(BatchNorm("bn", x, gamma_initializer=tf.zeros_initializer()), name=name)


def flatten(x):
    """[B, ...] -> [B, prod(...)] keeping the static shape."""
    return tf.reshape(x, [-1, int(np.prod(x.shape.as_list()[1:]))])


def fc_dropout_head(ends, x, num_classes, units, weight_std, fc8_std=0.01, fc6_bias=0.0):
    """fc6 -> dropout -> fc7 -> dropout [-> fc8 logits]: the AlexNet/ZFNet/VGG classifier, endpoints into ``ends``."""
    x = ends["fc6"] = FullyConnected("fc6", x, units, activation=tf.nn.relu,
                                     kernel_initializer=tf.random_normal_initializer(stddev=weight_std),
                                     bias_initializer=tf.constant_initializer(fc6_bias))
    x = Dropout("drop6", x, rate=0.5)
    x = ends["fc7"] = FullyConnected("fc7", x, units, activation=tf.nn.relu,
                                     kernel_initializer=tf.random_normal_initializer(stddev=weight_std))
    x = ends["pre_logits"] = Dropout("drop7", x, rate=0.5)
    if num_classes:
        ends["logits"] = FullyConnected("fc8", x, num_classes,
                                        kernel_initializer=tf.random_normal_initializer(stddev=fc8_std))
    return ends
