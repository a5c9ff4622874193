"""The classifier's input augmentation as shared ``AugmentConfig``s (spec 3.2 and 2.1).

``fbresnet`` (TensorPack's ResNet recipe): random resized crop (area fraction ``crop_scale``, TensorPack's
0.08-1; aspect 3/4-4/3), brightness/contrast/saturation 0.4, PCA lighting 0.1, horizontal flip.
``alexnet`` (TensorPack's AlexNet): shorter side to ``resize_shorter``, random crop, lighting 0.1, flip.
Evaluation (classification/eval_data.py): shorter side to ``resize_shorter``, centre crop.
"""
from common.data.augment import AugmentConfig

TRAIN_AUGMENTS = ("fbresnet", "alexnet")


def train_augment(cfg):
    """Training ``AugmentConfig`` for ``cfg["augment"]`` with the config's size, statistics and interpolation."""
    common = dict(size=cfg["image_size"], resize_shorter=cfg["resize_shorter"], interpolation=cfg["interpolation"],
                  flip=True, lighting_std=0.1, mean=tuple(cfg["mean"]), std=tuple(cfg["std"]))
    if cfg["augment"] == "fbresnet":
        return AugmentConfig(crop="random_resized", scale=tuple(cfg["crop_scale"]),
                             color_jitter=(0.4, 0.4, 0.4, 0.0), **common)
    if cfg["augment"] == "alexnet":
        return AugmentConfig(crop="random", **common)
    raise ValueError("config augment=%r: expected one of %s" % (cfg["augment"], ", ".join(TRAIN_AUGMENTS)))
