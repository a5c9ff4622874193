"""VGG16/VGG19 (TensorPack recipe, BN optional), LA's ``vggnet_fx`` VGG16 and revisiting's VGG19 (convbnrelu)."""
from tensorpack import BatchNorm, BNReLU, Conv2D, MaxPooling, argscope

from common.tf1 import tf
from common.models.layers import channels, fc_dropout_head, flatten, spatial_size
from common.models.registry import register

# revisiting's filters_factor k (1..16, 8 = standard) is width k / 8
VGG_WIDTHS = tuple(k / 8 for k in range(1, 17))
_CONVS_PER_STAGE = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}


def _stage_channels(stage, width):
    """64, 128, 256, 512, 512 channels for stages 1..5, scaled by ``width``."""
    return channels(64 * 2 ** min(stage - 1, 3), width)


def _tensorpack_vgg(images, num_classes, width, depth, use_bn):
    """3x3 SAME convs with bias (-> BN) -> ReLU, 2x2 max-pools, fc6/fc7 with dropout, fc8 (TensorPack's VGG example)."""
    ends = {}
    with argscope(Conv2D, kernel_initializer=tf.variance_scaling_initializer(scale=2.0),
                  activation=BNReLU if use_bn else tf.nn.relu):
        x = images
        for stage, n_convs in enumerate(_CONVS_PER_STAGE[depth], 1):
            for i in range(1, n_convs + 1):
                x = Conv2D("conv%d_%d" % (stage, i), x, _stage_channels(stage, width), 3)
            ends["conv%d" % stage] = x
            x = ends["pool%d" % stage] = MaxPooling("pool%d" % stage, x, 2)
    return fc_dropout_head(ends, x, num_classes, channels(4096, width), weight_std=0.001)


def _register_tensorpack_vgg(depth, use_bn):
    name = "vgg%d%s" % (depth, "_bn" if use_bn else "")

    def build(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1):
        return _tensorpack_vgg(images, num_classes, width, depth, use_bn)
    build.__name__ = name
    build.__doc__ = "VGG%d%s, TensorPack recipe (He init, fc6/fc7 N(0, 0.001), dropout 0.5)." % (
        depth, " with conv -> BN -> ReLU" if use_bn else "")
    register(name, widths=VGG_WIDTHS)(build)


for _depth in (16, 19):
    for _use_bn in (False, True):
        _register_tensorpack_vgg(_depth, _use_bn)


@register("vgg16_la", widths=(1,))
def vgg16_la(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1):
    """Local Aggregation's ``vggnet_fx`` (the Local Aggregation release): BN only on each stage's last conv, fc6 and fc7.

    The ``*_final`` convs, fc6 and fc7 have no bias; fc6/fc7 are convolutions (fc6 spans the pool5 map),
    no dropout; glorot-uniform init; BN momentum 0.997, epsilon 1e-5. ``ending_point_0..4`` = conv1..conv5
    (each stage's final conv, before pooling). LA passes ``num_classes=128``.
    """
    ends = {}
    with argscope(BatchNorm, momentum=0.997, epsilon=1e-5), \
            argscope(Conv2D, activation=tf.nn.relu, kernel_initializer=tf.glorot_uniform_initializer()):
        x = images
        for stage, n_convs in enumerate(_CONVS_PER_STAGE[16], 1):
            for i in range(1, n_convs):
                x = Conv2D("conv%d_%d" % (stage, i), x, _stage_channels(stage, 1), 3)
            x = Conv2D("conv%d_final" % stage, x, _stage_channels(stage, 1), 3, use_bias=False, activation=BNReLU)
            ends["conv%d" % stage] = ends["ending_point_%d" % (stage - 1)] = x
            x = ends["pool%d" % stage] = MaxPooling("pool%d" % stage, x, 2)
        x = Conv2D("fc6", x, 4096, spatial_size(x), padding="VALID", use_bias=False, activation=BNReLU)
        ends["fc6"] = flatten(x)
        x = Conv2D("fc7", x, 4096, 1, use_bias=False, activation=BNReLU)
        ends["fc7"] = ends["pre_logits"] = flatten(x)
        if num_classes:
            ends["logits"] = flatten(Conv2D("fc8", x, num_classes, 1, activation=tf.identity))
    return ends


@register("vgg19_revisiting", widths=VGG_WIDTHS)
def vgg19_revisiting(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1):
    """Revisiting's VGG19 (the revisiting release's ``models/vggnet.py``): bias-free conv -> BN -> ReLU everywhere, no dropout.

    ``width`` = filters_factor / 8. fc6 (kernel = pool5 map size, VALID) and fc7 (1x1) are convbnrelu layers of
    4096 * width channels; ``fc6`` and ``pre_logits`` stay 4-D [B, 1, 1, C] as in the original; ``logits`` (1x1
    conv with bias) is squeezed. BN momentum 0.99, epsilon 1e-3 (TF defaults); glorot-uniform init.
    """
    ends = {}
    with argscope(BatchNorm, momentum=0.99, epsilon=1e-3), \
            argscope(Conv2D, use_bias=False, activation=BNReLU, kernel_initializer=tf.glorot_uniform_initializer()):
        x = images
        for stage, n_convs in enumerate(_CONVS_PER_STAGE[19], 1):
            for i in range(1, n_convs + 1):
                x = Conv2D("conv%d_%d" % (stage, i), x, _stage_channels(stage, width), 3)
            ends["block%d" % stage] = ends["conv%d" % stage] = x
            x = ends["pool%d" % stage] = MaxPooling("pool%d" % stage, x, 2)
        x = ends["fc6"] = Conv2D("fc6", x, channels(4096, width), spatial_size(x), padding="VALID")
        x = ends["pre_logits"] = Conv2D("fc7", x, channels(4096, width), 1)
        if num_classes:
            ends["logits"] = flatten(Conv2D("logits", x, num_classes, 1, use_bias=True, activation=tf.identity))
    return ends
