"""The release's ``get_net``: architecture flags -> a trunk builder from ``common.models`` under scope ``module``.

Widths follow the release's ``filters_factor`` (ResNet/RevNet: 4 = standard, width = k/4; VGG19: 8 = standard,
width = k/8). Patch tasks build ResNet/RevNet with root stride 1 and strides (2, 2, 1). ``resnet18`` (not in the
release) is the toy demo's small trunk: the ResNet-50 options on the basic-block ResNet-18.
"""
from common.tf1 import tf
from common.models import get_model
from common.models.registry import allowed_widths

# release architecture -> (registry name, filters_factor of width 1, endpoints of the module's signature)
ARCHITECTURES = {
    "vgg19": ("vgg19_revisiting", 8, ("block1", "block2", "block3", "block4", "block5", "fc6", "pre_logits")),
    "resnet50": ("resnet50_official", 4, ("after_root", "block1", "block2", "block3", "block4", "pre_logits")),
    "revnet50": ("revnet50", 4, ("after_root", "block1", "block2", "block3", "block4", "pre_logits")),
    "resnet18": ("resnet18_official", 4, ("after_root", "block1", "block2", "block3", "block4", "pre_logits")),
}
PATCH_TASKS = ("relative_patch_location", "jigsaw")


def resolve_architecture(architecture):
    """The release's substring match (``vgg19`` / ``resnet50`` / ``revnet50``, or ``resnet18``) -> key of
    ARCHITECTURES."""
    for key in ARCHITECTURES:
        if key in str(architecture):
            return key
    raise ValueError("--architecture %r: expected a name containing one of %s"
                     % (architecture, ", ".join(ARCHITECTURES)))


def trunk_options(architecture, filters_factor=None, mode="v2", last_relu=True, task=None):
    """(registry name, width, builder options, endpoint names) for the release's flags; bad widths are errors."""
    key = resolve_architecture(architecture)
    name, standard, endpoints = ARCHITECTURES[key]
    factor = standard if filters_factor is None else filters_factor
    width = float(factor) / standard
    widths = allowed_widths(name)
    if widths is not None and not any(abs(width - w) < 1e-9 for w in widths):
        raise ValueError("--filters_factor %s is not supported by --architecture %s; allowed: %s"
                         % (factor, key, ", ".join("%g" % (w * standard) for w in widths)))
    options = {}
    if key != "vgg19":
        options["last_relu"] = bool(last_relu)
        if task in PATCH_TASKS:
            options.update(root_conv_stride=1, strides=(2, 2, 1))
    if key in ("resnet50", "resnet18"):
        if mode not in ("v1", "v2"):
            raise ValueError("--mode %r: expected v1 or v2" % mode)
        # the release builds with tf.layers: BN momentum 0.99 / epsilon 1e-3, Glorot-uniform conv kernels, and
        # its root max-pool zero-pads one pixel on each side, then pools VALID
        options.update(version=int(mode[1]), bn_momentum=0.99, bn_epsilon=1e-3, root_pool_padding="fixed",
                       conv_init="glorot_uniform")
    return name, width, options, endpoints


def get_net(architecture, filters_factor=None, mode="v2", last_relu=True, weight_decay=1e-4, task=None,
            data_format="NHWC"):
    """``net(images, is_training, num_classes=None) -> endpoints`` (the release's names, plus ``logits`` when
    ``num_classes``), variables under ``module/`` (reused on later calls)."""
    name, width, options, endpoints = trunk_options(architecture, filters_factor, mode, last_relu, task)
    builder = get_model(name)

    def net(images, is_training, num_classes=None):
        with tf.variable_scope("module", reuse=tf.AUTO_REUSE):
            ends = builder(images, is_training, num_classes=num_classes, data_format=data_format,
                           weight_decay=weight_decay, width=width, **options)
        wanted = endpoints + (("logits",) if num_classes else ())
        return {k: ends[k] for k in wanted}
    return net
