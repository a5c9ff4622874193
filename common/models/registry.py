"""Backbone registry: ``register(name)`` decorator, ``get_model(name)``, ``list_models()``.

Every registered builder has the signature ``build(images, is_training, num_classes=None, data_format="NHWC",
weight_decay=0.0, width=1, **options) -> dict`` of endpoint tensors. The registry wraps it once with what every
backbone needs: argument checks (width, data format, options), the NHWC -> NCHW transpose, a TensorPack
``TowerContext`` when called outside a trainer, BatchNorm/Dropout mode from ``is_training``, and kernel weight decay.
"""
import contextlib
import importlib
import functools
import inspect

from tensorpack import AvgPooling, BatchNorm, Conv2D, Dropout, GlobalAvgPooling, MaxPooling, argscope
from tensorpack.tfutils.tower import BaseTowerContext, get_current_tower_context

from common.tf1 import tf
from common.models.weight_decay import kernel_weight_decay

_BUILDERS = {}
_WIDTHS = {}
_BASE_ARGS = ("images", "is_training", "num_classes", "data_format", "weight_decay", "width")


def _fmt_widths(widths):
    return ", ".join("%g" % w for w in widths)


def _check_width(name, width, widths):
    if widths is not None and not any(abs(float(width) - w) < 1e-9 for w in widths):
        raise ValueError("model %r does not support width %r; allowed widths: %s" % (name, width, _fmt_widths(widths)))


def _check_options(name, fn, options):
    valid = [p for p in inspect.signature(fn).parameters if p not in _BASE_ARGS]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError("model %r: unknown option(s) %s; valid options: %s"
                         % (name, ", ".join(unknown), ", ".join(valid) or "none"))


class _GraphContext(BaseTowerContext):
    """Stand-in TowerContext for plain graphs: tells TensorPack's BatchNorm the mode, checks nothing.

    Unlike TensorPack's own contexts it accepts any enclosing variable scope (including reuse / AUTO_REUSE).
    """

    def __init__(self, is_training):
        super(_GraphContext, self).__init__(tf.get_default_graph().get_name_scope())
        self._is_training = is_training

    @property
    def is_main_training_tower(self):
        return self._is_training

    @property
    def has_own_variables(self):
        return True

    def _keys_to_freeze(self):
        return []


def _tower_context(is_training):
    """The active TensorPack TowerContext, or a stand-in at the current name scope (plain tf.Session graphs)."""
    if get_current_tower_context() is not None:
        return contextlib.nullcontext()
    return _GraphContext(is_training)


@contextlib.contextmanager
def _layer_defaults(data_format, is_training):
    """Layout and BatchNorm/Dropout mode for every layer of a builder, undone even when the builder raises.

    (TensorPack's ``argscope`` pops its entry only on a clean exit: after an exception its settings, e.g.
    ``BatchNorm(training=False)``, would leak into every later graph of the process.)
    """
    tp_argscope = importlib.import_module("tensorpack.tfutils.argscope")  # the module, not the function
    depth = len(tp_argscope._ArgScopeStack)
    try:
        with argscope([Conv2D, MaxPooling, AvgPooling, GlobalAvgPooling, BatchNorm], data_format=data_format), \
                argscope(BatchNorm, training=is_training), argscope(Dropout, training=is_training):
            yield
    finally:
        del tp_argscope._ArgScopeStack[depth:]


def register(name, widths=None):
    """Decorator registering a builder under ``name``; ``widths`` lists the allowed width factors (None = any)."""
    def decorator(fn):
        @functools.wraps(fn)
        def build(images, is_training, num_classes=None, data_format="NHWC", weight_decay=0.0, width=1, **options):
            _check_width(name, width, widths)
            _check_options(name, fn, options)
            if data_format not in ("NHWC", "NCHW"):
                raise ValueError("model %r: data_format must be NHWC or NCHW, got %r" % (name, data_format))
            if data_format == "NCHW":
                images = tf.transpose(images, [0, 3, 1, 2])
            with _tower_context(bool(is_training)), kernel_weight_decay(weight_decay), \
                    _layer_defaults(data_format, bool(is_training)):
                return fn(images, is_training, num_classes=num_classes, data_format=data_format,
                          weight_decay=weight_decay, width=width, **options)
        if name in _BUILDERS:
            raise ValueError("backbone %r is registered twice" % name)
        _BUILDERS[name] = build
        _WIDTHS[name] = None if widths is None else tuple(widths)
        return build
    return decorator


def get_model(name):
    """Return the builder registered as ``name``; unknown names raise a ValueError listing the valid ones."""
    if name not in _BUILDERS:
        raise ValueError("unknown backbone %r; valid names: %s" % (name, ", ".join(list_models())))
    return _BUILDERS[name]


def list_models():
    """Sorted names of all registered backbones."""
    return sorted(_BUILDERS)


def allowed_widths(name):
    """The width factors ``name`` accepts (None = any)."""
    get_model(name)
    return _WIDTHS[name]
