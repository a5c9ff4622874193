"""The release's DALI pipelines (``datasets/dali_tf_flow.py``) as ``AugmentConfig``s, and the per-tower datasets.

Train (both phases): random resized crop to ``image_size`` (area ``crop_scale``, aspect 3/4-4/3, bilinear),
colour twist (brightness x U[0.875, 1.125], contrast and saturation x U[0.5, 1.5], hue +-0.5: DALI's hue is in
degrees, so the release's hue jitter is negligible and kept so), ImageNet mean/std normalisation, horizontal
flip. Validation: shorter side to ``resize_size``, one centre crop.
"""
from common.data.augment import AugmentConfig
from common.data.input import make_dataset
from common.data.records import ensure_records, read_meta

__all__ = ["train_augment", "val_augment", "counting_dataset", "open_records"]


def open_records(data_dir):
    """``(record_dir, meta)`` for ``--data_dir`` (records, or a JPEG folder built once); errors name the flag."""
    try:
        record_dir = ensure_records(data_dir)
        return record_dir, read_meta(record_dir)
    except ValueError as e:
        raise ValueError("--data_dir: %s" % e)


def train_augment(image_size, crop_scale, color_jitter, grayscale_prob=0.0):
    """The training ``AugmentConfig`` of both phases: a random resized crop to ``image_size`` (area
    ``crop_scale``), ``color_jitter`` (brightness, contrast, saturation, hue), ``grayscale_prob``, a flip."""
    return AugmentConfig(size=image_size, crop="random_resized", scale=tuple(crop_scale),
                         interpolation="bilinear_antialias", flip=True, color_jitter=tuple(color_jitter),
                         grayscale_prob=grayscale_prob)


def val_augment(image_size, resize_size):
    """The validation ``AugmentConfig``: resize the shorter side to ``resize_size``, centre crop ``image_size``."""
    return AugmentConfig(size=image_size, crop="center", resize_shorter=resize_size,
                         interpolation="bilinear_antialias")


def counting_dataset(record_dir, split, batch_size, augment, reader, train=True, device="cpu", seed=None):
    """One tower's batches ``(image, label, index)`` of ``augment`` (an ``AugmentConfig``): repeated and shuffled
    for training; for validation one pass over the whole split (the last, smaller batch included; the release's
    195 x 256 dropped the last 80 of ImageNet's 50,000)."""
    if train:
        return make_dataset(record_dir, split, batch_size, augment, reader=reader, shuffle=True,
                            repeat=True, seed=seed, device=device)
    return make_dataset(record_dir, split, batch_size, augment, reader=reader, shuffle=False,
                        repeat=False, drop_remainder=False, device=device)
