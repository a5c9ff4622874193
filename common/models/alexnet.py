"""AlexNet family: the original (LRN, grouped convs), AlexNet-BN, counting's AlexNet-v2 and LA's alexnet_bn_no_drop."""
from tensorpack import BatchNorm, BNReLU, Conv2D, FullyConnected, MaxPooling, argscope

from common.tf1 import tf
from common.models.layers import fc_dropout_head, flatten, lrn, pad_spatial, spatial_size
from common.models.registry import register


def _tensorpack_alexnet(images, num_classes, use_bn, grouped):
    """TensorPack's AlexNet (TensorPack's ImageNet example); ``use_bn`` puts conv -> BN -> ReLU where the LRNs were."""
    split = 2 if grouped else 1
    norm_act = BNReLU if use_bn else tf.nn.relu
    ends = {}
    with argscope(Conv2D, kernel_initializer=tf.variance_scaling_initializer(scale=2.0), activation=tf.nn.relu):
        x = ends["conv1"] = Conv2D("conv1", pad_spatial(images, 2), 96, 11, strides=4, padding="VALID",
                                   activation=norm_act)
        if not use_bn:
            x = lrn(x, "norm1")
        x = ends["pool1"] = MaxPooling("pool1", x, 3, strides=2, padding="VALID")
        x = ends["conv2"] = Conv2D("conv2", x, 256, 5, split=split, activation=norm_act)
        if not use_bn:
            x = lrn(x, "norm2")
        x = ends["pool2"] = MaxPooling("pool2", x, 3, strides=2, padding="VALID")
        x = ends["conv3"] = Conv2D("conv3", x, 384, 3)
        x = ends["conv4"] = Conv2D("conv4", x, 384, 3, split=split)
        x = ends["conv5"] = Conv2D("conv5", x, 256, 3, split=split)
        x = ends["pool5"] = MaxPooling("pool5", x, 3, strides=2, padding="VALID")
    return fc_dropout_head(ends, x, num_classes, 4096, weight_std=0.01, fc6_bias=1.0)


@register("alexnet", widths=(1,))
def alexnet(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1, grouped=True):
    """Original AlexNet with LRN and (``grouped``) 2-group conv2/4/5, TensorPack recipe: 60,965,224 parameters."""
    return _tensorpack_alexnet(images, num_classes, use_bn=False, grouped=grouped)


@register("alexnet_bn", widths=(1,))
def alexnet_bn(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1, grouped=True):
    """AlexNet-BN (seed): BatchNorm replaces the two LRNs (conv -> BN -> ReLU, conv biases kept): 60,965,928."""
    return _tensorpack_alexnet(images, num_classes, use_bn=True, grouped=grouped)


@register("alexnet_counting", widths=(1,))
def alexnet_counting(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1):
    """Counting's slim AlexNet-v2 variant (the counting release's ``alexnet_v2``): no BN/LRN/dropout, fc_8 has a ReLU.

    Variables live in ``alexnet_v2`` with AUTO_REUSE, so repeated calls share weights (the Siamese towers).
    fc_6..fc_8 are built only with ``num_classes`` (the counting feature size); ``fc8``/``logits`` are the
    non-negative counting feature. Keys ``fc_6``..``fc_8`` alias ``fc6``..``fc8`` (the original's tensor names).
    """
    ends = {}
    glorot = tf.glorot_uniform_initializer()
    with tf.variable_scope("alexnet_v2", reuse=tf.AUTO_REUSE), \
            argscope([Conv2D, FullyConnected], activation=tf.nn.relu, kernel_initializer=glorot):
        x = ends["conv1"] = Conv2D("conv1", images, 96, 11, strides=4)
        x = ends["pool1"] = MaxPooling("pool1", x, 3, strides=2, padding="SAME")
        x = ends["conv2"] = Conv2D("conv2", x, 256, 5)
        x = ends["pool2"] = MaxPooling("pool2", x, 3, strides=2, padding="SAME")
        x = ends["conv3"] = Conv2D("conv3", x, 384, 3)
        x = ends["conv4"] = Conv2D("conv4", x, 384, 3)
        x = ends["conv5"] = Conv2D("conv5", x, 256, 3)
        x = ends["pool5"] = MaxPooling("pool5", x, 3, strides=2, padding="VALID")
        if num_classes:
            x = ends["fc6"] = ends["fc_6"] = FullyConnected("fc_6", x, 4096)
            x = ends["fc7"] = ends["fc_7"] = ends["pre_logits"] = FullyConnected("fc_7", x, 4096)
            ends["fc8"] = ends["fc_8"] = ends["logits"] = FullyConnected("fc_8", x, num_classes)
    return ends


@register("alexnet_la", widths=(1,))
def alexnet_la(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1):
    """Local Aggregation's ``alexnet_bn_no_drop`` (the Local Aggregation release): conv -> BN -> ReLU everywhere, no dropout.

    fc6/fc7 are convolutions (fc6's kernel spans the whole pool5 map: 5x5 at 224 px); LA passes
    ``num_classes=128`` for its embedding (fc8: 1x1 conv, no BN/ReLU). BN momentum 0.997, epsilon 1e-5.
    """
    ends = {}
    fc_init = dict(kernel_initializer=tf.truncated_normal_initializer(stddev=0.005),
                   bias_initializer=tf.constant_initializer(0.1))
    with argscope(BatchNorm, momentum=0.997, epsilon=1e-5), \
            argscope(Conv2D, activation=BNReLU, kernel_initializer=tf.glorot_uniform_initializer()):
        x = ends["conv1"] = Conv2D("conv1", images, 64, 11, strides=4, padding="VALID")
        x = ends["pool1"] = MaxPooling("pool1", x, 3, strides=2, padding="VALID")
        x = ends["conv2"] = Conv2D("conv2", x, 192, 5)
        x = ends["pool2"] = MaxPooling("pool2", x, 3, strides=2, padding="VALID")
        x = ends["conv3"] = Conv2D("conv3", x, 384, 3)
        x = ends["conv4"] = Conv2D("conv4", x, 384, 3)
        x = ends["conv5"] = Conv2D("conv5", x, 256, 3)
        x = ends["pool5"] = MaxPooling("pool5", x, 3, strides=2, padding="VALID")
        x = Conv2D("fc6", x, 4096, spatial_size(x), padding="VALID", **fc_init)
        ends["fc6"] = flatten(x)
        x = Conv2D("fc7", x, 4096, 1, **fc_init)
        ends["fc7"] = ends["pre_logits"] = flatten(x)
        if num_classes:
            x = Conv2D("fc8", x, num_classes, 1, activation=tf.identity,
                       kernel_initializer=tf.truncated_normal_initializer(stddev=0.005))
            ends["logits"] = flatten(x)
    return ends
