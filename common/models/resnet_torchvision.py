"""ResNets in torchvision's layout (the lemniscate release's ``models/resnet.py``): ``resnet18_tv`` ...
``resnet152_tv``.

Differences from TensorPack's ``resnet18`` ...: symmetric padding (7x7/2 conv pad 3, 3x3/2 max-pool pad 1,
strided 3x3 convs pad 1: explicit zero padding, then VALID), the stride on the 3x3 conv of a bottleneck, no
projection in the first group of basic blocks (identity when stride and channels match), downsample = 1x1
conv (stride) + BN, BN eps 1e-5 / decay 0.9 (PyTorch momentum 0.1), convs N(0, sqrt(2 / (k*k*out))).
Variables follow the release's module names: ``conv1/W``, ``bn1/gamma``, ``layer2/0/conv1/W``,
``layer2/0/downsample/0/W``, ``layer2/0/downsample/1/gamma``, ...; ``logits`` is ``fc/W``, ``fc/b``.
Endpoints: conv1, pool1, conv2..conv5 (layer1..layer4), pre_logits (global average pool), logits.
``stem="cifar"``: the release's CIFAR ResNet (3x3/1 conv pad 1, no max-pool).
"""
import math

from tensorpack import BatchNorm, Conv2D, FullyConnected, GlobalAvgPooling, MaxPooling, argscope

from common.tf1 import tf
from common.models.layers import channels, data_format_of_scope, pad_spatial
from common.models.registry import register
from common.models.resnet import BLOCKS, RESNET_WIDTHS

__all__ = ["TV_NAMES"]

TV_NAMES = {depth: "resnet%d_tv" % depth for depth in BLOCKS}


def _conv(name, x, ch_out, kernel, stride=1):
    """Conv without bias, torch padding ``kernel // 2`` on each side (explicit pad, then VALID)."""
    if kernel > 1:
        x = pad_spatial(x, kernel // 2)
    return Conv2D(name, x, ch_out, kernel, strides=stride, padding="VALID")


def _bn(name, x, zero=False):
    init = tf.zeros_initializer() if zero else tf.ones_initializer()
    return BatchNorm(name, x, epsilon=1e-5, momentum=0.9, gamma_initializer=init)


def _n_channels(x):
    return x.shape.as_list()[1 if data_format_of_scope() == "NCHW" else 3]


def _shortcut(x, ch_out, stride):
    """Identity, or the release's ``downsample``: 1x1 conv (stride) + BN, when stride or channel count change."""
    if stride == 1 and _n_channels(x) == ch_out:
        return x
    with tf.variable_scope("downsample"):
        return _bn("1", _conv("0", x, ch_out, 1, stride))


def basic_block(x, ch_out, stride, zero_init):
    """3x3 (stride) -> BN -> ReLU -> 3x3 -> BN, + shortcut, ReLU (``expansion = 1``)."""
    out = tf.nn.relu(_bn("bn1", _conv("conv1", x, ch_out, 3, stride)))
    out = _bn("bn2", _conv("conv2", out, ch_out, 3), zero=zero_init)
    return tf.nn.relu(out + _shortcut(x, ch_out, stride))


def bottleneck(x, ch_out, stride, zero_init):
    """1x1 -> BN-ReLU -> 3x3 (stride) -> BN-ReLU -> 1x1 (4 ch_out) -> BN, + shortcut, ReLU (``expansion = 4``)."""
    out = tf.nn.relu(_bn("bn1", _conv("conv1", x, ch_out, 1)))
    out = tf.nn.relu(_bn("bn2", _conv("conv2", out, ch_out, 3, stride)))
    out = _bn("bn3", _conv("conv3", out, ch_out * 4, 1), zero=zero_init)
    return tf.nn.relu(out + _shortcut(x, ch_out * 4, stride))


def torchvision_resnet(images, num_classes, depth, width, stem="imagenet", zero_init=False):
    """The release's ResNet-``depth`` up to the pooled features (and ``fc`` logits with bias when ``num_classes``)."""
    if stem not in ("imagenet", "cifar"):
        raise ValueError("resnet%d_tv: stem must be 'imagenet' or 'cifar', got %r" % (depth, stem))
    block = basic_block if depth < 50 else bottleneck
    base = channels(64, width)
    ends = {}
    init = tf.variance_scaling_initializer(scale=2.0, mode="fan_out", distribution="untruncated_normal")
    with argscope(Conv2D, use_bias=False, kernel_initializer=init):
        if stem == "cifar":
            x = ends["conv1"] = tf.nn.relu(_bn("bn1", _conv("conv1", images, base, 3)))
        else:
            x = ends["conv1"] = tf.nn.relu(_bn("bn1", _conv("conv1", images, base, 7, 2)))
            # zero padding equals torch's -inf padding here: the input is a ReLU output (>= 0)
            x = ends["pool1"] = MaxPooling("maxpool", pad_spatial(x, 1), 3, strides=2, padding="VALID")
        for i, count in enumerate(BLOCKS[depth]):
            with tf.variable_scope("layer%d" % (i + 1)):
                for j in range(count):
                    with tf.variable_scope(str(j)):
                        x = block(x, base * 2 ** i, 2 if i > 0 and j == 0 else 1, zero_init)
            ends["conv%d" % (i + 2)] = x
    x = ends["pre_logits"] = GlobalAvgPooling("avgpool", x)
    if num_classes:
        bound = 1.0 / math.sqrt(int(x.shape[-1]))
        uniform = tf.random_uniform_initializer(-bound, bound)
        ends["logits"] = FullyConnected("fc", x, num_classes, kernel_initializer=uniform, bias_initializer=uniform)
    return ends


def _register(depth):
    def build(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1,
              stem="imagenet", zero_init=False):
        return torchvision_resnet(images, num_classes, depth, width, stem, zero_init)
    build.__name__ = TV_NAMES[depth]
    build.__doc__ = "ResNet-%d in torchvision's layout (the lemniscate release); widths as TensorPack's." % depth
    register(TV_NAMES[depth], widths=RESNET_WIDTHS)(build)


for _depth in sorted(BLOCKS):
    _register(_depth)
