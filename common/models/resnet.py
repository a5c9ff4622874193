"""ResNets in TensorPack's three modes (examples/ResNet): "resnet" (v1), "preact" (v2) and "se" (SE-ResNet).

Endpoints: conv1 (stem conv, 112 px at 224), pool1 (stem max-pool), conv2..conv5 (group0..group3 outputs),
pre_logits (global average pool) and logits. Options: ``stem="cifar"`` (3x3 stride-1 conv, no max-pool, as
instance discrimination's CIFAR ResNets) and ``zero_init=False`` (last BN gamma of v1/SE branches starts at 1).
"""
import functools

from tensorpack import BNReLU, Conv2D, FullyConnected, GlobalAvgPooling, MaxPooling, argscope

from common.tf1 import tf
from common.models.layers import bn, bn_zero_init, channels, data_format_of_scope
from common.models.registry import register

# revisiting's filters_factor k (1..16, 4 = standard) is width k / 4
RESNET_WIDTHS = tuple(k / 4 for k in range(1, 17))
BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _shortcut(x, n_out, stride, activation=tf.identity):
    """Identity, or a 1x1 projection with the block's stride when the channel count changes."""
    n_in = x.shape.as_list()[1 if data_format_of_scope() == "NCHW" else 3]
    if n_in != n_out:
        return Conv2D("convshortcut", x, n_out, 1, strides=stride, activation=activation)
    return x


def resnet_basicblock(x, ch_out, stride, last_bn=bn_zero_init):
    """v1 basic block: 3x3 (stride) -> BN-ReLU -> 3x3 -> last_bn (gamma 0), + shortcut (BN projection), ReLU."""
    out = Conv2D("conv1", x, ch_out, 3, strides=stride, activation=BNReLU)
    out = Conv2D("conv2", out, ch_out, 3, activation=last_bn)
    return tf.nn.relu(out + _shortcut(x, ch_out, stride, activation=bn))


def _bottleneck_branch(x, ch_out, stride, last_bn):
    """1x1 -> BN-ReLU -> 3x3 (stride, "v1.5") -> BN-ReLU -> 1x1 (4 ch_out) -> last_bn."""
    out = Conv2D("conv1", x, ch_out, 1, activation=BNReLU)
    out = Conv2D("conv2", out, ch_out, 3, strides=stride, activation=BNReLU)
    return Conv2D("conv3", out, ch_out * 4, 1, activation=last_bn)


def resnet_bottleneck(x, ch_out, stride, last_bn=bn_zero_init):
    """v1 bottleneck: the branch + shortcut (BN projection), ReLU."""
    out = _bottleneck_branch(x, ch_out, stride, last_bn)
    return tf.nn.relu(out + _shortcut(x, ch_out * 4, stride, activation=bn))


def se_bottleneck(x, ch_out, stride, last_bn=bn_zero_init):
    """SE bottleneck: v1 bottleneck whose residual branch is gated by squeeze-and-excitation (ratio 16)."""
    out = _bottleneck_branch(x, ch_out, stride, last_bn)
    squeeze = GlobalAvgPooling("gap", out)
    squeeze = FullyConnected("fc1", squeeze, ch_out // 4, activation=tf.nn.relu)
    squeeze = FullyConnected("fc2", squeeze, ch_out * 4, activation=tf.nn.sigmoid)
    gate_shape = [-1, ch_out * 4, 1, 1] if data_format_of_scope() == "NCHW" else [-1, 1, 1, ch_out * 4]
    out = out * tf.reshape(squeeze, gate_shape)
    return tf.nn.relu(out + _shortcut(x, ch_out * 4, stride, activation=bn))


def preact_basicblock(x, ch_out, stride, preact):
    """v2 basic block: [BN-ReLU] -> 3x3 (stride) -> BN-ReLU -> 3x3, + shortcut of the raw input (plain projection)."""
    out = BNReLU("preact", x) if preact else x
    out = Conv2D("conv1", out, ch_out, 3, strides=stride, activation=BNReLU)
    out = Conv2D("conv2", out, ch_out, 3)
    return out + _shortcut(x, ch_out, stride)


def preact_bottleneck(x, ch_out, stride, preact):
    """v2 bottleneck: [BN-ReLU] -> 1x1 -> BN-ReLU -> 3x3 (stride) -> BN-ReLU -> 1x1 (4 ch_out), + shortcut."""
    out = BNReLU("preact", x) if preact else x
    out = Conv2D("conv1", out, ch_out, 1, activation=BNReLU)
    out = Conv2D("conv2", out, ch_out, 3, strides=stride, activation=BNReLU)
    out = Conv2D("conv3", out, ch_out * 4, 1)
    return out + _shortcut(x, ch_out * 4, stride)


def resnet_group(name, x, block, ch_out, count, stride):
    """``count`` v1/SE blocks, the first one with ``stride``."""
    with tf.variable_scope(name):
        for i in range(count):
            with tf.variable_scope("block%d" % i):
                x = block(x, ch_out, stride if i == 0 else 1)
    return x


def preact_group(name, x, block, ch_out, count, stride):
    """``count`` v2 blocks (block 0 takes an already activated input), then the group's BN-ReLU ("bnlast")."""
    with tf.variable_scope(name):
        for i in range(count):
            with tf.variable_scope("block%d" % i):
                x = block(x, ch_out, stride if i == 0 else 1, preact=i > 0)
        return BNReLU("bnlast", x)


_MODES = {  # mode -> (group function, basic block, bottleneck block)
    "resnet": (resnet_group, resnet_basicblock, resnet_bottleneck),
    "preact": (preact_group, preact_basicblock, preact_bottleneck),
    "se": (resnet_group, None, se_bottleneck),
}


def resnet_backbone(images, num_classes, depth, mode, width, stem="imagenet", zero_init=True):
    """TensorPack's ResNet: conv0 7x7/2 + BN-ReLU, max-pool 3/2, four groups, GAP, fc (N(0, 0.01))."""
    if stem not in ("imagenet", "cifar"):
        raise ValueError("resnet%d: stem must be 'imagenet' or 'cifar', got %r" % (depth, stem))
    group, basic, bottleneck = _MODES[mode]
    block = basic if depth < 50 else bottleneck
    if mode != "preact":
        block = functools.partial(block, last_bn=bn_zero_init if zero_init else bn)
    base = channels(64, width)
    ends = {}
    with argscope(Conv2D, use_bias=False,
                  kernel_initializer=tf.variance_scaling_initializer(scale=2.0, mode="fan_out")):
        if stem == "cifar":
            x = ends["conv1"] = Conv2D("conv0", images, base, 3, activation=BNReLU)
        else:
            x = ends["conv1"] = Conv2D("conv0", images, base, 7, strides=2, activation=BNReLU)
            x = ends["pool1"] = MaxPooling("pool0", x, 3, strides=2, padding="SAME")
        for i, count in enumerate(BLOCKS[depth]):
            x = ends["conv%d" % (i + 2)] = group("group%d" % i, x, block, base * 2 ** i, count, 1 if i == 0 else 2)
    x = ends["pre_logits"] = GlobalAvgPooling("gap", x)
    if num_classes:
        ends["logits"] = FullyConnected("linear", x, num_classes,
                                        kernel_initializer=tf.random_normal_initializer(stddev=0.01))
    return ends


def _register(depth, mode, name):
    def build(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1,
              stem="imagenet", zero_init=True):
        return resnet_backbone(images, num_classes, depth, mode, width, stem, zero_init)
    build.__name__ = name
    build.__doc__ = "ResNet-%d, TensorPack mode %r; width = revisiting filters_factor / 4." % (depth, mode)
    register(name, widths=RESNET_WIDTHS)(build)


for _depth in sorted(BLOCKS):
    _register(_depth, "resnet", "resnet%d" % _depth)
    _register(_depth, "preact", "resnet%d_v2" % _depth)
    if _depth >= 50:
        _register(_depth, "se", "se_resnet%d" % _depth)
