"""ZFNet (Zeiler & Fergus 2014) with BatchNorm after every conv (the seed's ZFNet-BN), and without."""
from tensorpack import BNReLU, Conv2D, MaxPooling, argscope

from common.tf1 import tf
from common.models.layers import fc_dropout_head, pad_spatial
from common.models.registry import register


def _zfnet(images, num_classes, use_bn):
    """ZFNet layer table (Zeiler and Fergus 2014, with BN in the seed) with the padding recipe that reproduces the paper's sizes."""
    ends = {}
    with argscope(Conv2D, kernel_initializer=tf.variance_scaling_initializer(scale=2.0),
                  activation=BNReLU if use_bn else tf.nn.relu):
        x = ends["conv1"] = Conv2D("conv1", pad_spatial(images, 1), 96, 7, strides=2, padding="VALID")
        x = ends["pool1"] = MaxPooling("pool1", x, 3, strides=2, padding="SAME")
        x = ends["conv2"] = Conv2D("conv2", x, 256, 5, strides=2, padding="VALID")
        x = ends["pool2"] = MaxPooling("pool2", x, 3, strides=2, padding="SAME")
        x = ends["conv3"] = Conv2D("conv3", x, 384, 3)
        x = ends["conv4"] = Conv2D("conv4", x, 384, 3)
        x = ends["conv5"] = Conv2D("conv5", x, 256, 3)
        x = ends["pool5"] = MaxPooling("pool5", x, 3, strides=2, padding="VALID")
    return fc_dropout_head(ends, x, num_classes, 4096, weight_std=0.01)


@register("zfnet_bn", widths=(1,))
def zfnet_bn(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1):
    """ZFNet-BN: conv (bias kept) -> BN -> ReLU on all five convs; 62,360,360 parameters at 224/1000."""
    return _zfnet(images, num_classes, use_bn=True)


@register("zfnet", widths=(1,))
def zfnet(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1):
    """Plain ZFNet (conv -> ReLU, no contrast normalisation); 62,357,608 parameters at 224/1000."""
    return _zfnet(images, num_classes, use_bn=False)
