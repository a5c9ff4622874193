"""The two training recipes a classification config may use, checked for keys of the other one.

Schedule: ``lr_schedule: "cosine"`` (the release's: ``warmup_epochs`` linear warm-up epochs from ``warmup_lr`` to
``peak_lr``, then ``epochs`` cosine epochs to ``cosine_alpha * peak_lr``) or ``"step"`` (TensorPack's: ``base_lr``
scaled by the batch over ``lr_ref_batch``, x ``lr_decay`` after each of ``lr_decay_epochs``, ``epochs`` in all).
Augmentation: ``augment: "seed"`` (the release's, with its BGR statistics ``mean_bgr``/``std_bgr`` on the 0-255
scale and its PCA ``eigval_bgr``/``eigvec_bgr``) or ``"fbresnet"``/``"alexnet"`` (TensorPack's, RGB ``mean``/``std``
as fractions of 255). ``resolve_recipe`` refuses a config holding keys of the other recipe (one line naming them)
and fills in ``mean``/``std`` (RGB, fractions of 255) from the release's statistics and ``size_rounding`` (the
release truncates resized sizes, TensorPack rounds them), which the evaluation code uses. The data code takes
values built once from a config: ``SeedAugment`` (the release's augmentation) and ``EvalView`` (the view geometry
and normalisation of evaluation and of TensorPack's augmentation).
"""
import collections

from common.config import ConfigError

SCHEDULE_KEYS = {"cosine": ("warmup_epochs", "warmup_lr", "peak_lr", "cosine_alpha"),
                 "step": ("base_lr", "lr_ref_batch", "warmup_epochs", "lr_decay_epochs", "lr_decay")}
SEED_AUGMENT_KEYS = ("aspect_jitter", "short_side", "hue_jitter", "saturation_jitter", "value_jitter",
                     "lighting_std", "mean_bgr", "std_bgr", "eigval_bgr", "eigvec_bgr")
TP_AUGMENT_KEYS = ("crop_scale", "mean", "std")
AUGMENT_KEYS = {"seed": SEED_AUGMENT_KEYS, "fbresnet": TP_AUGMENT_KEYS, "alexnet": TP_AUGMENT_KEYS}
RELEASE = ("cosine", "seed")  # the release's choices; the others are TensorPack's


def _check(cfg, name, choice_key, groups):
    choice = cfg.get(choice_key)
    if choice not in groups:
        raise ConfigError("config %s: %s=%r: expected one of %s"
                          % (name, choice_key, choice, ", ".join(sorted(groups))))
    own = set(groups[choice])
    foreign = sorted({k for keys in groups.values() for k in keys if k not in own and k in cfg})
    if foreign:
        ours, theirs = ("the release's", "TensorPack's") if choice in RELEASE else ("TensorPack's", "the release's")
        raise ConfigError("config %s mixes the two recipes: %s=%r (%s) with %s key(s) %s; remove them or change %s"
                          % (name, choice_key, choice, ours, theirs, ", ".join(foreign), choice_key))
    missing = [k for k in groups[choice] if k not in cfg]
    if missing:
        raise ConfigError("config %s: %s=%r needs the key(s) %s" % (name, choice_key, choice, ", ".join(missing)))


def resolve_recipe(cfg, name="config"):
    """``cfg`` checked (schedule and augmentation keys of one recipe each) with RGB ``mean``/``std`` filled in."""
    _check(cfg, name, "lr_schedule", SCHEDULE_KEYS)
    _check(cfg, name, "augment", AUGMENT_KEYS)
    cfg = dict(cfg, size_rounding="round")
    if cfg["augment"] != "seed":
        return cfg
    cfg["size_rounding"] = "floor"
    cfg["mean"] = [m / 255.0 for m in cfg["mean_bgr"][::-1]]
    cfg["std"] = [s / 255.0 for s in cfg["std_bgr"][::-1]]
    return cfg


class SeedAugment(collections.namedtuple("SeedAugment", ("image_size",) + SEED_AUGMENT_KEYS)):
    """The values of the release's training augmentation (``classification.augment``, ``classification.seed_dali``)."""
    __slots__ = ()

    @classmethod
    def from_config(cls, cfg):
        """The config's values of the seed recipe (``augment: "seed"``)."""
        return cls(**{k: cfg[k] for k in cls._fields})


class EvalView(collections.namedtuple("EvalView", "image_size resize_shorter interpolation size_rounding mean std")):
    """Crop side, short side before cropping, resize filter, size rounding, RGB mean/std (fractions of 255)."""
    __slots__ = ()

    @classmethod
    def from_config(cls, cfg):
        """The view of a ``resolve_recipe``d config or a ``classifier.json`` run info (``size_rounding``: round
        when absent)."""
        return cls(cfg["image_size"], cfg["resize_shorter"], cfg["interpolation"], cfg.get("size_rounding", "round"),
                   cfg["mean"], cfg["std"])
