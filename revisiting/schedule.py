"""The release's learning-rate schedule (``trainer.py``) as (global step, lr) points for linear interpolation:
linear warm-up from 0, then ``lr_decay_factor`` per decay boundary (``piecewise_constant``: new value for
t > boundary). ``TensorPack``'s ``ScheduledHyperParamSetter(interp="linear", step_based=True)`` replays it."""
import math

import numpy as np

from common.schedules import linear_warmup, piecewise


def steps_per_epoch(num_examples, batch_size):
    """floor(examples / global batch); at least 1."""
    return max(int(num_examples) // int(batch_size), 1)


def decay_epochs(cfg):
    """The ``decay_epochs`` flag (``"15,25"`` or a list) as floats; default: no decay within training."""
    value = cfg.get("decay_epochs")
    if value in (None, "", []):
        return [float(cfg["epochs"])]
    if isinstance(value, str):
        try:
            return [float(e) for e in value.split(",") if e.strip()]
        except ValueError:
            raise ValueError("decay_epochs=%r: expected comma-separated epochs such as 15,25" % value)
    return [float(e) for e in value]


def total_steps(cfg, epoch_steps):
    """ceil(epochs * steps_per_epoch)."""
    return int(math.ceil(float(cfg["epochs"]) * epoch_steps))


def lr_schedule(cfg, epoch_steps):
    """``[(step, lr), ...]``: base_lr = lr * batch_size / lr_scale_batch_size, warm-up over
    ``warmup_epochs``, decays at ``decay_epochs``; linear interpolation between points gives the release's LR."""
    scale = cfg.get("lr_scale_batch_size") or cfg["batch_size"]
    base_lr = float(cfg["lr"]) * cfg["batch_size"] / float(scale)
    factor = float(cfg.get("lr_decay_factor", 0.1))
    warmup = int(round(float(cfg.get("warmup_epochs") or 0) * epoch_steps))
    points = linear_warmup(0.0, base_lr, warmup) if warmup else [(0, base_lr)]
    value = base_lr
    for boundary, decayed in piecewise(base_lr, [int(e * epoch_steps) for e in decay_epochs(cfg)], factor):
        points += [(boundary, value), (boundary + 1, decayed)]
        value = decayed
    end = max(total_steps(cfg, epoch_steps), points[-1][0] + 1)
    return points + [(end, value)]


def lr_at(points, step):
    """The learning rate of ``lr_schedule`` points at global ``step``."""
    steps, values = zip(*points)
    return float(np.interp(step, steps, values))
