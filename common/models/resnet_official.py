"""ResNet v1/v2 in the TF-official-models style used by Local Aggregation and revisiting (fixed padding).

Registered as ``resnet{18,34,50,101,152}_official``. Options: ``version`` (1 post-activation, 2 pre-activation),
``root_conv_stride``, ``strides`` (first units of blocks 2-4; patch tasks use ``root_conv_stride=1,
strides=(2, 2, 1)``), ``last_relu`` (v2 only), ``bn_momentum``, ``bn_epsilon`` (defaults: TF official 0.997 / 1e-5;
revisiting passes 0.99 / 1e-3), ``root_pool_padding`` ("same": TF official; "fixed": zero-pad 1 pixel each side,
then VALID, as the revisiting release) and ``conv_init`` ("variance_scaling": TF official; "glorot_uniform": the
``tf.layers`` default that the revisiting release's convolutions use).
Endpoints: conv1 (root conv), after_root (root max-pool), block1..block4 (= conv2..conv5), pre_logits (global
average pool), logits, and LA's ``ending_point_0..n``: the root output, each unit's (pre-activated) input, and the
final output (ResNet-18: 10, ResNet-50: 18).
"""
from tensorpack import BatchNorm, BNReLU, Conv2D, FullyConnected, GlobalAvgPooling, MaxPooling, argscope

from common.tf1 import tf
from common.models.layers import bn, channels, fixed_padding
from common.models.registry import register
from common.models.resnet import BLOCKS, RESNET_WIDTHS


def conv_fixed_padding(name, x, filters, kernel_size, strides, activation=tf.identity):
    """Conv with SAME padding at stride 1, explicit fixed padding + VALID when strided (TF official)."""
    if strides > 1:
        x = fixed_padding(x, kernel_size)
    return Conv2D(name, x, filters, kernel_size, strides=strides, padding="SAME" if strides == 1 else "VALID",
                  activation=activation)


def _v1_unit(x, filters, stride, projection, bottleneck):
    """Post-activation unit: branch ends in BN, ReLU after the addition; returns (output, unit input)."""
    shortcut = conv_fixed_padding("shortcut", x, filters, 1, stride, activation=bn) if projection else x
    if bottleneck:
        out = Conv2D("conv1", x, filters // 4, 1, activation=BNReLU)
        out = conv_fixed_padding("conv2", out, filters // 4, 3, stride, activation=BNReLU)
        out = Conv2D("conv3", out, filters, 1, activation=bn)
    else:
        out = conv_fixed_padding("conv1", x, filters, 3, stride, activation=BNReLU)
        out = conv_fixed_padding("conv2", out, filters, 3, 1, activation=bn)
    return tf.nn.relu(out + shortcut), x


def _v2_unit(x, filters, stride, projection, bottleneck):
    """Pre-activation unit: BN-ReLU first; the projection (no BN) reads the pre-activated input, identity the raw one.

    Returns (output, pre-activated input).
    """
    h = BNReLU("preact", x)
    shortcut = conv_fixed_padding("shortcut", h, filters, 1, stride) if projection else x
    if bottleneck:
        out = Conv2D("conv1", h, filters // 4, 1, activation=BNReLU)
        out = conv_fixed_padding("conv2", out, filters // 4, 3, stride, activation=BNReLU)
        out = Conv2D("conv3", out, filters, 1)
    else:
        out = conv_fixed_padding("conv1", h, filters, 3, stride, activation=BNReLU)
        out = conv_fixed_padding("conv2", out, filters, 3, 1)
    return out + shortcut, h


CONV_INITS = {"variance_scaling": tf.variance_scaling_initializer, "glorot_uniform": tf.glorot_uniform_initializer}


def official_resnet(images, num_classes, depth, width, version, root_conv_stride, strides, last_relu,
                    bn_momentum, bn_epsilon, root_pool_padding="same", conv_init="variance_scaling"):
    """Root (7x7 conv, 3x3/2 max-pool), four blocks (projection in each block's first unit), head, endpoints."""
    name = "resnet%d_official" % depth
    if version not in (1, 2):
        raise ValueError("%s: version must be 1 or 2, got %r" % (name, version))
    if version == 1 and not last_relu:
        raise ValueError("%s: last_relu=False needs version=2 (v1 always ends with a ReLU)" % name)
    if root_pool_padding not in ("same", "fixed"):
        raise ValueError("%s: root_pool_padding must be 'same' or 'fixed', got %r" % (name, root_pool_padding))
    if conv_init not in CONV_INITS:
        raise ValueError("%s: conv_init must be one of %s, got %r" % (name, ", ".join(CONV_INITS), conv_init))
    if len(strides) != 3:
        raise ValueError("%s: strides must give the strides of blocks 2-4 (3 values), got %r" % (name, strides))
    bottleneck = depth >= 50
    unit = _v1_unit if version == 1 else _v2_unit
    base = channels(64, width)
    ends = {}
    with argscope(BatchNorm, momentum=bn_momentum, epsilon=bn_epsilon), \
            argscope(Conv2D, use_bias=False, kernel_initializer=CONV_INITS[conv_init]()):
        x = ends["conv1"] = conv_fixed_padding("conv0", images, base, 7, root_conv_stride,
                                               activation=BNReLU if version == 1 else tf.identity)
        if root_pool_padding == "fixed":  # the revisiting release: zero-pad 1/1, then VALID
            x = ends["after_root"] = MaxPooling("pool0", fixed_padding(x, 3), 3, strides=2, padding="VALID")
        else:  # TF official models (LA): SAME
            x = ends["after_root"] = MaxPooling("pool0", x, 3, strides=2, padding="SAME")
        points = [x]
        for b, (count, stride) in enumerate(zip(BLOCKS[depth], (1,) + tuple(strides))):
            filters = base * 2 ** b * (4 if bottleneck else 1)
            with tf.variable_scope("block%d" % (b + 1)):
                for u in range(count):
                    with tf.variable_scope("unit%d" % (u + 1)):
                        x, point = unit(x, filters, stride if u == 0 else 1, u == 0, bottleneck)
                        points.append(point)
            ends["block%d" % (b + 1)] = ends["conv%d" % (b + 2)] = x
        if version == 2:
            x = BatchNorm("final_bn", x)
            x = tf.nn.relu(x) if last_relu else x
        points.append(x)
    ends.update(("ending_point_%d" % i, p) for i, p in enumerate(points))
    x = ends["pre_logits"] = GlobalAvgPooling("gap", x)
    if num_classes:
        ends["logits"] = FullyConnected("logits", x, num_classes, kernel_initializer=tf.glorot_uniform_initializer())
    return ends


def _register(depth):
    name = "resnet%d_official" % depth

    def build(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1, version=2,
              root_conv_stride=2, strides=(2, 2, 2), last_relu=True, bn_momentum=0.997, bn_epsilon=1e-5,
              root_pool_padding="same", conv_init="variance_scaling"):
        return official_resnet(images, num_classes, depth, width, version, root_conv_stride, strides, last_relu,
                               bn_momentum, bn_epsilon, root_pool_padding, conv_init)
    build.__name__ = name
    build.__doc__ = "ResNet-%d, TF-official style (fixed padding), v1 or v2; width = filters_factor / 4." % depth
    register(name, widths=RESNET_WIDTHS)(build)


for _depth in sorted(BLOCKS):
    _register(_depth)
