"""Up-front checks of setting values by their name, for every script's flags and config keys (``common.cli``).

A value the run cannot use is refused before anything starts, with one line naming the flag or config key:
any NaN/inf number; a negative learning rate, momentum or weight decay (``lr``, ``*_lr``, ``learning_rate``,
``momentum``, ``*weight_decay``, ``lr_decay*``); a temperature (``*_t``) that is not > 0; a size, batch, count
or frequency (``*size``, ``*batch``, ``epoch(s)``, ``*_dim``, ``fre_*``, ``train_num_steps``) that is
not > 0; ``steps_per_epoch`` below 0 (0: one pass over the data); a ``crop_scale`` that is not ``[min, max]``
with 0 < min <= max <= 1.
"""
import math
import numbers
import re

__all__ = ["problem"]

NON_NEGATIVE = re.compile(r"^(lr|learning_rate|momentum|bn_momentum|weight_decay|lr_decay|lr_decay_factor)$|_lr$")
POSITIVE = re.compile(r"_t$")
POSITIVE_COUNT = re.compile(r"(^|_)(size|batch|batch_size|dim)$|^(epoch|epochs|train_num_steps)$|^fre_")


def _number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _crop_scale(value):
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2 or not all(map(_number, value))
            or not 0 < value[0] <= value[1] <= 1):
        return "must be [min, max] with 0 < min <= max <= 1, got %r" % (value,)
    return None


def problem(name, value):
    """Why ``value`` cannot be the setting ``name`` (a short phrase), or None when it can."""
    if name == "crop_scale":
        return _crop_scale(value)
    items = value if isinstance(value, (list, tuple)) else [value]
    if any(_number(v) and not math.isfinite(v) for v in items):
        return "must be a finite number, got %r" % (value,)
    if not _number(value):
        return None
    if NON_NEGATIVE.search(name) and value < 0:
        return "must be >= 0, got %r" % value
    if (POSITIVE.search(name) or POSITIVE_COUNT.search(name)) and value <= 0:
        return "must be > 0, got %r" % value
    if name == "steps_per_epoch" and value < 0:
        return "must be >= 0 (0: one pass over the data), got %r" % value
    return None
