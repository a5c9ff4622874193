"""The classification scripts' settings as one ``common.cli`` flag table: every config key (config-only unless a
script gives it a flag) and ``config_of(args)``, the checked config dict of a resolved namespace.

A key absent from the config stays None and is left out of the dict, so ``classification.recipe`` sees which
recipe's keys a config holds; a key the table does not know is refused by ``common.cli``.
"""
from common.cli import Flag
from common.config import ConfigError
from classification.recipe import resolve_recipe

_CONFIG_ONLY = (
    ("sources", "where the config's values come from"), ("note", "free text"),
    ("model", "backbone of common/models"), ("width", "width factor of the backbone"),
    ("grouped", "AlexNet: grouped convolutions"), ("num_classes", "classes of the data"),
    ("image_size", "crop side in pixels"), ("resize_shorter", "evaluation: short side before the centre crop"),
    ("interpolation", "evaluation resize filter"), ("augment", "training augmentation: seed, fbresnet or alexnet"),
    ("aspect_jitter", "seed: long-side stretch range"), ("short_side", "seed: random short side range (inclusive)"),
    ("hue_jitter", "seed: hue shift in degrees"), ("saturation_jitter", "seed: saturation factor 1 +- this"),
    ("value_jitter", "seed: value factor 1 +- this"), ("lighting_std", "seed: PCA lighting alpha std"),
    ("mean_bgr", "seed: BGR mean (0-255)"), ("std_bgr", "seed: BGR std (0-255)"),
    ("eigval_bgr", "seed: PCA eigenvalues"), ("eigvec_bgr", "seed: PCA eigenvectors (BGR rows)"),
    ("crop_scale", "TensorPack: random-resized-crop area range"), ("mean", "TensorPack: RGB mean (fraction of 255)"),
    ("std", "TensorPack: RGB std (fraction of 255)"), ("lr_schedule", "cosine (the release) or step (TensorPack)"),
    ("warmup_epochs", "warm-up epochs"), ("warmup_lr", "cosine: first warm-up rate"),
    ("peak_lr", "cosine: rate after the warm-up"), ("cosine_alpha", "cosine: final rate / peak"),
    ("base_lr", "step: base rate"), ("lr_ref_batch", "step: batch of base_lr"),
    ("lr_decay_epochs", "step: decay after these epochs"), ("lr_decay", "step: decay factor"),
    ("momentum", "SGD momentum"), ("nesterov", "Nesterov momentum"), ("weight_decay", "L2 on kernels"),
    ("label_smoothing", "label smoothing epsilon"), ("val_batch", "validation batch"),
    ("workers", "validation decode threads"))

TRAIN_FLAGS = [Flag(name, None, text, flag=False) for name, text in _CONFIG_ONLY] + [
    Flag("data", None, "TFRecord dir or ImageNet-style folder", type=str),
    Flag("batch", None, "TOTAL training batch over all towers", type=int),
    Flag("epochs", None, "epochs (the release's recipe: cosine epochs after the warm-up)", type=int),
    Flag("reader", None, "training input pipeline", type=str, choices=("tfdata", "dali"))]

TEST_FLAGS = [f if f.name == "data" else f._replace(flag=False) for f in TRAIN_FLAGS]


def config_of(args, flags=TRAIN_FLAGS):
    """The config of a ``common.cli.resolve``d namespace: keys with a value, checked by ``resolve_recipe``."""
    if not args.config:
        raise ConfigError("--config FILE.json:KEY is required (e.g. exp_configs/classification.json:toy)")
    cfg = {f.name: getattr(args, f.name) for f in flags if getattr(args, f.name) is not None}
    return resolve_recipe(cfg, args.config)
