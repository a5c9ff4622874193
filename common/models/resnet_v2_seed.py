"""The classification release's own ResNetV2-50 (its ``models/ResNetV2_50.py``), which differs from TensorPack's
"preact" mode: no BN after the stem conv; every bottleneck unit pre-activates its input (BN-ReLU) and a projection
shortcut starts from that pre-activated tensor (stride 1: a 1x1 conv; stride 2: a 2x2/2 average pool then a 1x1
conv); one final BN-ReLU; fc without bias; Keras' default (Glorot uniform) kernel initialisation.

Endpoints: conv1 (stem conv), pool1, conv2..conv5 (stage outputs, not activated), pre_logits (after the final
BN-ReLU and global average pool), logits. 25,548,352 trainable parameters with 1000 classes.
"""
from tensorpack import AvgPooling, BNReLU, Conv2D, FullyConnected, GlobalAvgPooling, MaxPooling, argscope

from common.tf1 import tf
from common.models.layers import channels, data_format_of_scope
from common.models.registry import register
from common.models.resnet import RESNET_WIDTHS

STAGES = (3, 4, 6, 3)


def seed_bottleneck(x, ch_out, stride):
    """BN-ReLU -> 1x1 -> BN-ReLU -> 3x3 (stride) -> BN-ReLU -> 1x1 (4 ch_out), + shortcut.

    The shortcut is the raw input when the shape is kept, else a projection of the pre-activated input:
    1x1 conv (stride 1) or 2x2/2 average pool + 1x1 conv (stride 2).
    """
    pre = BNReLU("preact", x)
    n_in = x.shape.as_list()[1 if data_format_of_scope() == "NCHW" else 3]
    shortcut = x
    if stride != 1:
        pooled = AvgPooling("poolshortcut", pre, 2, strides=2, padding="SAME")
        shortcut = Conv2D("convshortcut", pooled, ch_out * 4, 1)
    elif n_in != ch_out * 4:
        shortcut = Conv2D("convshortcut", pre, ch_out * 4, 1)
    out = Conv2D("conv1", pre, ch_out, 1, activation=BNReLU)
    out = Conv2D("conv2", out, ch_out, 3, strides=stride, activation=BNReLU)
    out = Conv2D("conv3", out, ch_out * 4, 1)
    return out + shortcut


@register("resnet50_v2_seed", widths=RESNET_WIDTHS)
def resnet50_v2_seed(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1):
    """The release's ResNetV2-50: stem conv 7x7/2 (no BN), max-pool 3/2, stages [3, 4, 6, 3], BN-ReLU, GAP, fc."""
    base = channels(64, width)
    ends = {}
    with argscope([Conv2D, FullyConnected], use_bias=False, kernel_initializer=tf.glorot_uniform_initializer()):
        x = ends["conv1"] = Conv2D("conv0", images, base, 7, strides=2)
        x = ends["pool1"] = MaxPooling("pool0", x, 3, strides=2, padding="SAME")
        for i, count in enumerate(STAGES):
            with tf.variable_scope("group%d" % i):
                for k in range(count):
                    with tf.variable_scope("block%d" % k):
                        x = seed_bottleneck(x, base * 2 ** i, 2 if i > 0 and k == 0 else 1)
            ends["conv%d" % (i + 2)] = x
        x = BNReLU("bnlast", x)
        x = ends["pre_logits"] = GlobalAvgPooling("gap", x)
        if num_classes:
            ends["logits"] = FullyConnected("linear", x, num_classes)
    return ends
