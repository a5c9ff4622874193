"""LA's input pipelines (spec sections 4-5) as ``common.data`` AugmentConfigs, and the 10-crop view of a batch.

``train_crop`` modes of the release: ``default`` (random resized crop of area 0.2-1, grayscale p=0.2 before
a 0.4 colour jitter in random order, flip), ``resnet_crop_flip``, ``alexnet_crop_flip`` (shorter side to
256/224 of the crop, random crop, flip) and ``validate_crop`` (centre crop). Images are resized with area
interpolation; colour ops stay in float (no uint8 truncation after each op, Decision 13).
"""
from common.data.augment import AugmentConfig
from common.data.input import make_dataset
from common.tf1 import tf

__all__ = ["TRAIN_CROPS", "train_augment", "validation_augment", "make_train_dataset", "make_validation_dataset",
           "ten_crops"]

TRAIN_CROPS = ("default", "resnet_crop_flip", "alexnet_crop_flip", "validate_crop")


def train_augment(train_crop, image_size):
    """The AugmentConfig of a release ``train_crop`` mode at ``image_size`` px (one-line error if unknown)."""
    random_resized = dict(crop="random_resized", scale=(0.2, 1.0), flip=True)
    modes = {
        "default": dict(random_resized, color_jitter=(0.4, 0.4, 0.4, 0.4), grayscale_prob=0.2, grayscale_first=True),
        "resnet_crop_flip": random_resized,
        "alexnet_crop_flip": dict(crop="random", flip=True),
        "validate_crop": dict(crop="center"),
    }
    if train_crop not in modes:
        raise ValueError("train_crop %r: expected one of %s" % (train_crop, ", ".join(TRAIN_CROPS)))
    return AugmentConfig(size=image_size, interpolation="area", **modes[train_crop])


def validation_augment(image_size, ten_crop=False):
    """Centre crop (shorter side to 256/224 of ``image_size``); ``ten_crop``: the whole centre square, which
    ``ten_crops`` cuts into the release's 10 views."""
    cfg = AugmentConfig(size=image_size, crop="center", interpolation="area")
    return AugmentConfig(size=cfg.shorter_side, crop="center", interpolation="area") if ten_crop else cfg


def make_train_dataset(record_dir, args, per_tower, train_crop="default"):
    """One tower's repeating, shuffled training batches ``(image, label, index)``."""
    return make_dataset(record_dir, "train", per_tower, train_augment(train_crop, args.image_size), reader=args.reader)


def make_validation_dataset(record_dir, args, ten_crop=False):
    """The validation split once, in order, last partial batch kept (Decision 20)."""
    return make_dataset(record_dir, "validation", args.test_batch_size,
                        validation_augment(args.image_size, ten_crop), reader=args.reader, shuffle=False,
                        repeat=False, drop_remainder=False)


def ten_crops(images, size):
    """``[B, S, S, 3]`` -> ``[B * 10, size, size, 3]``: centre, top-left, top-right, bottom-left, bottom-right,
    then the same five flipped, per image (spec 5.3)."""
    full = tf.shape(images)[1]
    mid, far = (full - size) // 2, full - size
    views = [images[:, y:y + size, x:x + size] for y, x in ((mid, mid), (0, 0), (0, far), (far, 0), (far, far))]
    views += [tf.reverse(v, axis=[2]) for v in views]
    return tf.reshape(tf.stack(views, axis=1), [-1, size, size, 3])
