"""Learning-rate schedules of the two recipes.

The release's own (``lr_schedule: "cosine"``, its train.py): ``warmup_epochs`` warm-up epochs (the release: 1)
rising linearly from ``warmup_start`` to ``peak`` (Keras ``PolynomialDecay``, power 1), then Keras ``CosineDecay``
from ``peak`` over ``epochs`` further epochs to ``alpha * peak``; ``seed_learning_rate`` gives the rate at a
global step and the schedule object ``SeedLearningRate`` sets the ``learning_rate`` variable to it before every
step.

TensorPack's (``lr_schedule: "step"``, its examples/ResNet): BASE = base_lr x total_batch / lr_ref_batch.
Epoch 0: min(base_lr, BASE) when a warm-up is configured, else BASE; after each epoch in ``lr_decay_epochs`` the
rate is BASE x lr_decay^k. If BASE > base_lr and ``warmup_epochs`` > 0, a linearly interpolated setter goes from
base_lr at epoch 0 to BASE at ``warmup_epochs`` (Goyal et al.). Entries are ``(epoch, value)`` pairs.
"""
from common.schedules import EpochSchedule, StepSchedule, cosine, linear_warmup, piecewise


def seed_learning_rate(step, steps_per_epoch, epochs=50, peak=0.05, warmup_start=1e-4, alpha=1e-4, warmup_epochs=1):
    """The release's rate at global ``step``: linear warm-up over the first ``warmup_epochs`` epochs, then cosine
    decay over ``epochs`` epochs."""
    warmup = warmup_epochs * steps_per_epoch
    if step < warmup:
        return warmup_start + (peak - warmup_start) * step / float(warmup)
    return cosine(step - warmup, epochs * steps_per_epoch, peak, alpha)


def seed_schedule_args(cfg):
    """Keyword arguments of ``seed_learning_rate`` from a ``lr_schedule: "cosine"`` config."""
    return dict(epochs=cfg["epochs"], peak=cfg["peak_lr"], warmup_start=cfg["warmup_lr"], alpha=cfg["cosine_alpha"],
                warmup_epochs=cfg["warmup_epochs"])


class SeedLearningRate(StepSchedule):
    """The schedule object of the release's rate: ``learning_rate`` set to ``seed_learning_rate(global step, ...)``
    before training and after every step."""

    def __init__(self, steps_per_epoch, **schedule):
        super(SeedLearningRate, self).__init__(schedule.get("warmup_start", 1e-4))
        self.steps_per_epoch = steps_per_epoch
        self.schedule = schedule

    def value(self, step):
        return seed_learning_rate(step, self.steps_per_epoch, **self.schedule)


def scaled_lr(cfg, total_batch):
    """BASE = ``base_lr * total_batch / lr_ref_batch``."""
    return cfg["base_lr"] * float(total_batch) / cfg["lr_ref_batch"]


def step_schedule(cfg, total_batch):
    """The schedule object of TensorPack's recipe (``lr_schedule: "step"``): ``lr_schedule``'s points."""
    points, warmup = lr_schedule(cfg, total_batch)
    return EpochSchedule(points[0][1], points, warmup=warmup)


def lr_schedule(cfg, total_batch):
    """``(piecewise, warmup)``: ``[(epoch, lr)]`` step points and the linear warm-up points (or None)."""
    base = scaled_lr(cfg, total_batch)
    warm = cfg.get("warmup_epochs", 0) > 0
    first = min(cfg["base_lr"], base) if warm else base
    steps = [(0, first)] + piecewise(base, cfg["lr_decay_epochs"], cfg["lr_decay"])
    warmup = linear_warmup(cfg["base_lr"], base, cfg["warmup_epochs"]) if warm and base > cfg["base_lr"] else None
    return steps, warmup
