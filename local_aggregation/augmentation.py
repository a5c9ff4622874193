"""LA's input pipelines (the release's ``data.py``) as ``common.data`` AugmentConfigs, and the 10-crop view of a batch.

``train_crop`` modes of the release: ``default`` (random resized crop of area 0.2-1, grayscale p=0.2 before
a 0.4 colour jitter in random order, flip), ``resnet_crop_flip``, ``alexnet_crop_flip`` (shorter side to
256/224 of the crop, random crop, flip) and ``validate_crop`` (centre crop); the 10-crop validation views of
the release's 10-crop validation (README). Images are resized with area interpolation; colour ops stay in float (no uint8 truncation after each
op, README decision 13).
"""
from common.data.augment import AugmentConfig, normalize, resize
from common.data.input import make_dataset
from common.tf1 import tf

__all__ = ["TRAIN_CROPS", "train_augment", "validation_augment", "make_train_dataset", "make_validation_dataset",
           "ten_crop_views"]

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


def validation_augment(image_size):
    """Centre crop (shorter side to 256/224 of ``image_size``), area interpolation."""
    return AugmentConfig(size=image_size, crop="center", interpolation="area")


def make_train_dataset(record_dir, per_tower, image_size, train_crop="default", reader="tfdata"):
    """One tower's repeating, shuffled training batches ``(image, label, index)`` of ``train_crop`` views."""
    return make_dataset(record_dir, "train", per_tower, train_augment(train_crop, image_size), reader=reader)


def make_validation_dataset(record_dir, batch_size, image_size, ten_crop=False, reader="tfdata"):
    """The validation split once, in order, last partial batch kept (README decision 20); normalised images
    ``[B, S, S, 3]``, or ``[B, 10, S, S, 3]`` with ``ten_crop`` (tf.data reader only)."""
    kwargs = dict(reader=reader, shuffle=False, repeat=False, drop_remainder=False)
    if not ten_crop:
        return make_dataset(record_dir, "validation", batch_size, validation_augment(image_size), **kwargs)
    views = lambda ex: (normalize(ten_crop_views(ex["image"], image_size)), ex["label"], ex["index"])  # noqa: E731
    return make_dataset(record_dir, "validation", batch_size, None, preprocess=views, **kwargs)


def ten_crop_views(image, size):
    """Decoded ``[H, W, 3]`` image -> float ``[10, size, size, 3]`` (the release's 10-crop validation (README)): squares of side
    ``c = int(224 / scale)``, ``scale = 256 / min(H, W)`` (computed as ``floor(224 min(H, W) / 256)``) at the
    centre (offsets ``int((H - c) / 2)``, ``int((W - c) / 2)``) and the four corners of the full image (top-left,
    top-right, bottom-left, bottom-right), each area-resized to ``size``, then the same five flipped."""
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    c = tf.minimum(h, w) * 224 // 256
    origins = [((h - c) // 2, (w - c) // 2), (0, 0), (0, w - c), (h - c, 0), (h - c, w - c)]
    image = tf.cast(image, tf.float32)
    views = [resize(image[y:y + c, x:x + c], [size, size], "area") for y, x in origins]
    views += [tf.reverse(v, axis=[1]) for v in views]
    return tf.stack(views)
