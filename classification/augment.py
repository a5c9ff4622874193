"""The classifier's training augmentation: TensorPack's (``AugmentConfig``s of common/data) and the release's own.

``fbresnet`` (TensorPack's ResNet recipe): random resized crop (area fraction ``crop_scale``), brightness/contrast/
saturation 0.4, PCA lighting 0.1, horizontal flip. ``alexnet`` (TensorPack's AlexNet): shorter side to
``resize_shorter``, random crop, lighting 0.1, flip.

``seed`` (the release's utils/data.py, OpenCV on BGR floats; here on RGB floats in [0, 255], same numbers):
(1) stretch the long side by r ~ U(``aspect_jitter``), short side kept (a square image stretches its height);
(2) resize the short side to s ~ U{``short_side``} (both bilinear, ``int()`` sizes computed in float64);
(3) random ``image_size`` crop at ``floor(u * (H - size))``; (4) horizontal flip p 0.5; (5) HSV jitter:
hue + U(-``hue_jitter``, ``hue_jitter``) degrees mod 360, saturation x U(1 -/+ ``saturation_jitter``) capped at 1,
value x U(1 -/+ ``value_jitter``) capped at 255; (6) PCA lighting: add ``eigvec @ (alpha * eigval)``,
alpha ~ N(0, ``lighting_std``), clip to [0, 255]; (7) ``(x - mean) / std``. ``seed_params`` draws the random
numbers, ``seed_augment`` applies them, so the deterministic part is testable on its own.
"""
from common.data.augment import AugmentConfig
from common.tf1 import tf

TRAIN_AUGMENTS = ("fbresnet", "alexnet", "seed")


def train_augment(cfg):
    """Training ``AugmentConfig`` for TensorPack's ``cfg["augment"]`` with the config's size and statistics."""
    common = dict(size=cfg["image_size"], resize_shorter=cfg["resize_shorter"], interpolation=cfg["interpolation"],
                  flip=True, lighting_std=0.1, mean=tuple(cfg["mean"]), std=tuple(cfg["std"]))
    if cfg["augment"] == "fbresnet":
        return AugmentConfig(crop="random_resized", scale=tuple(cfg["crop_scale"]),
                             color_jitter=(0.4, 0.4, 0.4, 0.0), **common)
    if cfg["augment"] == "alexnet":
        return AugmentConfig(crop="random", **common)
    raise ValueError("config augment=%r: expected one of %s" % (cfg["augment"], ", ".join(TRAIN_AUGMENTS)))


def seed_params(cfg, seed=None):
    """The random numbers of one image: r, s, crop fractions, flip, hue shift, S/V factors, lighting alpha."""
    def uniform(low, high, k, dtype=tf.float32):
        return tf.random.uniform([], low, high, dtype, seed=None if seed is None else seed + k)
    lo, hi = cfg["short_side"]
    return {"aspect": uniform(cfg["aspect_jitter"][0], cfg["aspect_jitter"][1], 0, tf.float64),
            "short": tf.random.uniform([], lo, hi + 1, tf.int32, seed=None if seed is None else seed + 1),
            "crop_y": uniform(0.0, 1.0, 2), "crop_x": uniform(0.0, 1.0, 3), "flip": uniform(0.0, 1.0, 4) < 0.5,
            "hue": uniform(-cfg["hue_jitter"], cfg["hue_jitter"], 5),
            "saturation": uniform(1 - cfg["saturation_jitter"], 1 + cfg["saturation_jitter"], 6),
            "value": uniform(1 - cfg["value_jitter"], 1 + cfg["value_jitter"], 7),
            "alpha": tf.random.normal([3], 0.0, cfg["lighting_std"], seed=None if seed is None else seed + 8)}


def _resize(image, height, width):
    """Bilinear resize with half-pixel centres, as OpenCV's ``INTER_LINEAR``."""
    return tf.image.resize_bilinear(image[None], tf.stack([height, width]), half_pixel_centers=True)[0]


def seed_geometry(image, params, size):
    """Steps 1-4 on a float32 RGB image: aspect stretch, short side, crop, flip."""
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float64), tf.cast(shape[1], tf.float64)
    r = params["aspect"]  # float64: sizes computed as in Python
    wide = h < w
    h1 = tf.where(wide, h, tf.floor(h * r))
    w1 = tf.where(wide, tf.floor(w * r), w)
    image = _resize(image, tf.cast(h1, tf.int32), tf.cast(w1, tf.int32))
    ratio = tf.cast(params["short"], tf.float64) / tf.where(h1 < w1, h1, w1)
    h2, w2 = tf.cast(tf.floor(h1 * ratio), tf.int32), tf.cast(tf.floor(w1 * ratio), tf.int32)
    image = _resize(image, h2, w2)
    y = tf.cast(tf.floor(params["crop_y"] * tf.cast(h2 - size, tf.float32)), tf.int32)
    x = tf.cast(tf.floor(params["crop_x"] * tf.cast(w2 - size, tf.float32)), tf.int32)
    image = image[y:y + size, x:x + size]
    image = tf.cond(params["flip"], lambda: image[:, ::-1], lambda: image)
    return tf.reshape(image, [size, size, 3])


def seed_colour(image, params, cfg):
    """Steps 5-7 on a float32 RGB image in [0, 255]: HSV jitter, PCA lighting, normalisation."""
    hsv = tf.image.rgb_to_hsv(image / 255.0)
    hue = tf.math.floormod(hsv[..., 0] + params["hue"] / 360.0, 1.0)
    sat = tf.minimum(hsv[..., 1] * params["saturation"], 1.0)
    val = tf.minimum(hsv[..., 2] * params["value"], 1.0)
    image = tf.image.hsv_to_rgb(tf.stack([hue, sat, val], axis=-1)) * 255.0
    eigvec = tf.constant(cfg["eigvec_bgr"][::-1], tf.float32)  # rows reversed: RGB channels
    offset = tf.tensordot(eigvec, params["alpha"] * tf.constant(cfg["eigval_bgr"], tf.float32), axes=1)
    image = tf.clip_by_value(image + offset, 0.0, 255.0)
    mean = tf.constant(cfg["mean_bgr"][::-1], tf.float32)
    std = tf.constant(cfg["std_bgr"][::-1], tf.float32)
    return (image - mean) / std


def seed_augment(image, params, cfg):
    """The release's training augmentation of one decoded RGB image (uint8 or float) with drawn ``params``."""
    image = seed_geometry(tf.cast(image, tf.float32), params, cfg["image_size"])
    return seed_colour(image, params, cfg)


def seed_preprocess(cfg, seed=None):
    """Per-example function for ``make_dataset(preprocess=...)``: decoded dict -> augmented dict."""
    def fn(example):
        image = seed_augment(example["image"], seed_params(cfg, seed), cfg)
        return {"image": image, "label": example["label"], "index": example["index"]}
    return fn
