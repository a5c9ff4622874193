"""Learning-rate schedules: the schedule objects a paper hands to ``common.train.launch_train``, their pieces, and
the learning-rate variable an optimizer reads.

A schedule object (``LearningRate`` and its kinds) is the one seam between a paper's schedule and the trainer:
``launch_train`` calls its ``create_variable()`` (the rate, under the name and summary tag the release shows,
e.g. counting's ``lr_cnt``), hands that rate to the model's ``optimizer(lr)`` and adds its ``callbacks()``
(the setter, which holds the variable itself: nothing finds the rate by name).

Epoch schedules are ``[(epoch, lr), ...]`` pairs for TensorPack's ``ScheduledHyperParamSetter``: the pair
``(e, v)`` puts ``v`` in place once epoch ``e`` has finished (``e = 0``: before the first epoch). A rate that a
release applies from its 0-based epoch ``k`` on (PyTorch's ``lr * 0.1 ** (epoch // k)``) is the pair ``(k, v)``.
With ``interp="linear"`` the setter interpolates between pairs (warm-ups); ``step_based=True`` reads steps.
"""
import math

from tensorpack.callbacks import HyperParamSetter, ScheduledHyperParamSetter
from tensorpack.callbacks.param import GraphVarParam
from tensorpack.tfutils.common import get_global_step_var

from common.tf1 import tf

__all__ = ["piecewise", "piecewise_lr", "linear_warmup", "polynomial", "cosine", "value_during", "learning_rate_variable",
           "LearningRate", "EpochSchedule", "StepSchedule", "GlobalStepPiecewise"]


def piecewise(base, boundaries, factor=0.1):
    """``base * factor ** (i + 1)`` from boundary ``i`` on: ``[(b_0, base * factor), (b_1, base * factor**2), ...]``."""
    return [(int(b), base * factor ** (i + 1)) for i, b in enumerate(sorted(boundaries))]


def piecewise_lr(base_lr, boundaries, factor=0.1):
    """``step -> lr``: ``base_lr`` times ``factor`` per boundary (global step) already passed."""
    boundaries = sorted(boundaries)
    return lambda step: base_lr * factor ** sum(step >= b for b in boundaries)


def linear_warmup(start, peak, length):
    """Points of a linear rise from ``start`` at 0 to ``peak`` at ``length`` (use with ``interp="linear"``)."""
    return [(0, float(start)), (int(length), float(peak))]


def polynomial(base, end, first, last, power=1.0):
    """``(base - end) * (1 - (i - first) / (last - first)) ** power + end`` for i in [first, last)."""
    span = float(last - first)
    return [(i, (base - end) * (1.0 - (i - first) / span) ** power + end) for i in range(first, last)]


def cosine(t, total, peak, alpha=0.0):
    """Cosine decay at ``t`` of ``total`` (Keras' ``CosineDecay``): ``peak * ((1 - alpha) * c + alpha)``, with
    ``c = (1 + cos(pi * min(t, total) / total)) / 2``."""
    c = 0.5 * (1.0 + math.cos(math.pi * min(float(t), total) / total))
    return peak * ((1.0 - alpha) * c + alpha)


def value_during(schedule, epoch, initial):
    """The rate in use during 1-based ``epoch`` under ``schedule`` (no interpolation), ``initial`` before any pair."""
    value = initial
    for e, v in sorted(schedule):
        if e < epoch:
            value = v
    return value


def learning_rate_variable(initial, name="learning_rate", summary="learning_rate-summary"):
    """The non-trainable scalar ``name`` (reused if it exists) that the schedule callback sets, and its summary
    (TensorPack shows ``learning_rate-summary`` as ``learning_rate``; a tag equal to the op name gets a suffix)."""
    with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
        lr = tf.get_variable(name, initializer=float(initial), trainable=False)
    if summary:
        tf.summary.scalar(summary, lr)
    return lr


class _VariableParam(GraphVarParam):
    """TensorPack's hyper-parameter handle on a variable held as an object (its readable name, shown in
    ``stats.json``, is the variable's name)."""

    def __init__(self, var):
        super(_VariableParam, self).__init__(var.op.name)
        self.var = var

    def setup_graph(self):
        pass


class LearningRate(object):
    """A constant rate, and the base of the schedule objects: ``create_variable()`` makes the non-trainable
    ``name`` variable (summary tag ``summary``) that the model's ``optimizer(lr)`` reads; ``callbacks()`` the
    TensorPack callbacks that set it (none here)."""

    def __init__(self, initial, name="learning_rate", summary="learning_rate-summary"):
        self.initial, self.name, self.summary = float(initial), name, summary
        self.variable = None

    def create_variable(self):
        """The rate of the current graph, handed to the model's optimizer."""
        self.variable = learning_rate_variable(self.initial, self.name, self.summary)
        return self.variable

    def callbacks(self):
        """The callbacks that set the rate during training."""
        return []


class EpochSchedule(LearningRate):
    """``[(epoch, lr), ...]`` points set by TensorPack's ``ScheduledHyperParamSetter`` (``interp="linear"``:
    interpolated; ``step_based``: the points are global steps); ``warmup``: more points, always interpolated,
    set by a second setter (a linear warm-up next to step decays)."""

    def __init__(self, initial, points, interp=None, step_based=False, warmup=None, name="learning_rate",
                 summary="learning_rate-summary"):
        super(EpochSchedule, self).__init__(initial, name, summary)
        self.points, self.interp, self.step_based = [tuple(p) for p in points], interp, step_based
        self.warmup = [tuple(p) for p in warmup] if warmup else None

    def callbacks(self):
        param = _VariableParam(self.variable)
        cbs = [ScheduledHyperParamSetter(param, self.points, interp=self.interp, step_based=self.step_based)]
        if self.warmup:
            cbs.append(ScheduledHyperParamSetter(param, self.warmup, interp="linear"))
        return cbs


class _StepSetter(HyperParamSetter):
    """Sets the rate to ``schedule.value(global step)`` before training and after every step."""

    def __init__(self, schedule):
        super(_StepSetter, self).__init__(_VariableParam(schedule.variable))
        self.schedule = schedule

    def _get_value_to_set(self):
        return self.schedule.value(self.global_step)

    def _trigger_step(self):
        self.trigger()


class StepSchedule(LearningRate):
    """A rate computed in Python from the global step before every step: subclasses define ``value(step)``."""

    def value(self, step):
        """The rate at global ``step``."""
        raise NotImplementedError

    def callbacks(self):
        return [_StepSetter(self)]


class GlobalStepPiecewise(LearningRate):
    """``initial * 0.1 ** (boundaries passed)`` computed in the graph from the global step (TF's
    ``piecewise_constant``: value i holds for b_{i-1} < step <= b_i), as a tensor ``name`` with the summary
    ``summary``; no variable, nothing to set."""

    def __init__(self, initial, boundaries, name="lr", summary="learning_rate"):
        super(GlobalStepPiecewise, self).__init__(initial, name, summary)
        self.boundaries = [int(b) for b in boundaries]

    def create_variable(self):
        if self.boundaries:
            values = [self.initial] + [v for _, v in piecewise(self.initial, self.boundaries)]
            lr = tf.train.piecewise_constant(get_global_step_var(), self.boundaries, values)
        else:
            lr = tf.constant(self.initial)
        self.variable = tf.identity(lr, name=self.name)
        tf.summary.scalar(self.summary, self.variable)
        return self.variable
