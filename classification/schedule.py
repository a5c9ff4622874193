"""Learning-rate schedules of the two recipes.

The release's own (``lr_schedule: "cosine"``, its train.py): one warm-up epoch rising linearly from
``warmup_start`` to ``peak`` (Keras ``PolynomialDecay``, power 1), then Keras ``CosineDecay`` from ``peak`` over
``epochs`` further epochs to ``alpha * peak``; ``seed_learning_rate`` gives the rate at a global step and
``SeedLearningRate`` sets the ``learning_rate`` variable to it before every step.

TensorPack's (``lr_schedule: "step"``, spec of examples/ResNet): BASE = base_lr x total_batch / lr_ref_batch.
Epoch 0: min(base_lr, BASE) when a warm-up is configured, else BASE; after each epoch in ``lr_decay_epochs`` the
rate is BASE x lr_decay^k. If BASE > base_lr and ``warmup_epochs`` > 0, a linearly interpolated setter goes from
base_lr at epoch 0 to BASE at ``warmup_epochs`` (Goyal et al.). Entries are ``(epoch, value)`` pairs.
"""
import math

from tensorpack.callbacks import HyperParamSetter


def seed_learning_rate(step, steps_per_epoch, epochs=50, peak=0.05, warmup_start=1e-4, alpha=1e-4):
    """The release's rate at global ``step``: linear warm-up over the first epoch, then cosine decay."""
    if step < steps_per_epoch:
        return warmup_start + (peak - warmup_start) * step / float(steps_per_epoch)
    decay_steps = epochs * steps_per_epoch
    done = min(step - steps_per_epoch, decay_steps) / float(decay_steps)
    return peak * ((1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * done)) + alpha)


def seed_schedule_args(cfg):
    """Keyword arguments of ``seed_learning_rate`` from a ``lr_schedule: "cosine"`` config."""
    return dict(epochs=cfg["epochs"], peak=cfg["peak_lr"], warmup_start=cfg["warmup_lr"], alpha=cfg["cosine_alpha"])


class SeedLearningRate(HyperParamSetter):
    """Sets ``learning_rate`` to ``seed_learning_rate(global step, ...)`` before training and after every step."""

    def __init__(self, steps_per_epoch, **schedule):
        super(SeedLearningRate, self).__init__("learning_rate")
        self.steps_per_epoch = steps_per_epoch
        self.schedule = schedule

    def _get_value_to_set(self):
        return seed_learning_rate(self.global_step, self.steps_per_epoch, **self.schedule)

    def _trigger_step(self):
        self.trigger()


def scaled_lr(cfg, total_batch):
    """BASE = ``base_lr * total_batch / lr_ref_batch``."""
    return cfg["base_lr"] * float(total_batch) / cfg["lr_ref_batch"]


def lr_schedule(cfg, total_batch):
    """``(piecewise, warmup)``: ``[(epoch, lr)]`` step points and the linear warm-up points (or None)."""
    base = scaled_lr(cfg, total_batch)
    warm = cfg.get("warmup_epochs", 0) > 0
    first = min(cfg["base_lr"], base) if warm else base
    piecewise = [(0, first)] + [(int(e), base * cfg["lr_decay"] ** (k + 1))
                                for k, e in enumerate(cfg["lr_decay_epochs"])]
    warmup = [(0, cfg["base_lr"]), (int(cfg["warmup_epochs"]), base)] if warm and base > cfg["base_lr"] else None
    return piecewise, warmup
