"""Learning-rate schedule of TensorPack's ImageNet recipes, scaled by the total batch (spec 3.4).

BASE = base_lr x total_batch / lr_ref_batch. Epoch 0 (before training): min(base_lr, BASE) when a warm-up is
configured, else BASE; after each epoch in ``lr_decay_epochs`` the rate is BASE x lr_decay^k. If BASE > base_lr
and ``warmup_epochs`` > 0, a second, linearly interpolated setter goes from base_lr at epoch 0 to BASE at
``warmup_epochs`` (Goyal et al.). Entries are ``(epoch, value)`` pairs for ScheduledHyperParamSetter.
"""


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

