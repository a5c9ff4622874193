"""Epoch-indexed learning-rate schedules of the counting release (``utils/lr_scheduler.py``).

A schedule is a list of ``(epoch, lr)`` pairs for TensorPack's ``ScheduledHyperParamSetter``: the pair
``(e, v)`` sets the LR to ``v`` after epoch ``e`` has finished (``e = 0``: before the first epoch).
"""

__all__ = ["counting_lr_schedule", "classifier_lr_schedule", "lr_during_epoch"]


def counting_lr_schedule(epochs, base_lr, tail_epochs=100, end_lr=1e-7, power=1.0):
    """Phase 1: constant ``base_lr``, then a polynomial decay to ``end_lr`` over the last ``tail_epochs``."""
    start = max(0, epochs - tail_epochs)
    span = float(epochs - start)
    return [(i, (base_lr - end_lr) * (1.0 - (i - start) / span) ** power + end_lr) for i in range(start, epochs)]


def classifier_lr_schedule(epochs, base_lr, end_lr=1e-9, power=2.0):
    """Phase 2: polynomial (power 2) decay from ``base_lr`` towards ``end_lr`` over all ``epochs``."""
    return [(i, (base_lr - end_lr) * (1.0 - float(i) / epochs) ** power + end_lr) for i in range(epochs)]


def lr_during_epoch(schedule, epoch, base_lr):
    """The LR in use during 1-based ``epoch``: the last pair set before it, else the initial ``base_lr``."""
    lr = base_lr
    for e, value in schedule:
        if e < epoch:
            lr = value
    return lr
