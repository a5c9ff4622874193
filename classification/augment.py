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
alpha ~ N(0, ``lighting_std``), clip to [0, 255]; (7) ``(x - mean) / std``. ``seed_draws`` draws the random
numbers, ``seed_augment`` applies them, so the deterministic part is testable on its own. The values come as a
``classification.recipe.SeedAugment`` (the seed recipe) or ``EvalView`` (TensorPack's geometry and statistics).
"""
from common.data.augment import AugmentConfig
from common.tf1 import tf

TRAIN_AUGMENTS = ("fbresnet", "alexnet", "seed")


def train_augment(kind, view, crop_scale=None):
    """Training ``AugmentConfig`` of TensorPack's augmentation ``kind`` with the geometry and statistics of ``view``
    (an ``EvalView``); ``crop_scale``: fbresnet's random-resized-crop area range."""
    common = dict(size=view.image_size, resize_shorter=view.resize_shorter, interpolation=view.interpolation,
                  flip=True, lighting_std=0.1, mean=tuple(view.mean), std=tuple(view.std))
    if kind == "fbresnet":
        return AugmentConfig(crop="random_resized", scale=tuple(crop_scale), color_jitter=(0.4, 0.4, 0.4, 0.0),
                             **common)
    if kind == "alexnet":
        return AugmentConfig(crop="random", **common)
    raise ValueError("config augment=%r: expected one of %s" % (kind, ", ".join(TRAIN_AUGMENTS)))


def seed_draws(values, seed=None):
    """The random numbers of one image (``values``: a ``SeedAugment``): r, s, crop fractions, flip, hue shift, S/V
    factors, lighting alpha."""
    def uniform(low, high, k, dtype=tf.float32):
        return tf.random.uniform([], low, high, dtype, seed=None if seed is None else seed + k)
    lo, hi = values.short_side
    return {"aspect": uniform(values.aspect_jitter[0], values.aspect_jitter[1], 0, tf.float64),
            "short": tf.random.uniform([], lo, hi + 1, tf.int32, seed=None if seed is None else seed + 1),
            "crop_y": uniform(0.0, 1.0, 2), "crop_x": uniform(0.0, 1.0, 3), "flip": uniform(0.0, 1.0, 4) < 0.5,
            "hue": uniform(-values.hue_jitter, values.hue_jitter, 5),
            "saturation": uniform(1 - values.saturation_jitter, 1 + values.saturation_jitter, 6),
            "value": uniform(1 - values.value_jitter, 1 + values.value_jitter, 7),
            "alpha": tf.random.normal([3], 0.0, values.lighting_std, seed=None if seed is None else seed + 8)}


def _resize(image, height, width):
    """Bilinear resize with half-pixel centres, as OpenCV's ``INTER_LINEAR``."""
    return tf.image.resize_bilinear(image[None], tf.stack([height, width]), half_pixel_centers=True)[0]


def seed_geometry(image, draws, size):
    """Steps 1-4 on a float32 RGB image: aspect stretch, short side, crop, flip."""
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float64), tf.cast(shape[1], tf.float64)
    r = draws["aspect"]  # float64: sizes computed as in Python
    wide = h < w
    h1 = tf.where(wide, h, tf.floor(h * r))
    w1 = tf.where(wide, tf.floor(w * r), w)
    image = _resize(image, tf.cast(h1, tf.int32), tf.cast(w1, tf.int32))
    ratio = tf.cast(draws["short"], tf.float64) / tf.where(h1 < w1, h1, w1)
    h2, w2 = tf.cast(tf.floor(h1 * ratio), tf.int32), tf.cast(tf.floor(w1 * ratio), tf.int32)
    image = _resize(image, h2, w2)
    y = tf.cast(tf.floor(draws["crop_y"] * tf.cast(h2 - size, tf.float32)), tf.int32)
    x = tf.cast(tf.floor(draws["crop_x"] * tf.cast(w2 - size, tf.float32)), tf.int32)
    image = image[y:y + size, x:x + size]
    image = tf.cond(draws["flip"], lambda: image[:, ::-1], lambda: image)
    return tf.reshape(image, [size, size, 3])


def seed_colour(image, draws, values):
    """Steps 5-7 on a float32 RGB image in [0, 255]: HSV jitter, PCA lighting, normalisation."""
    hsv = tf.image.rgb_to_hsv(image / 255.0)
    hue = tf.math.floormod(hsv[..., 0] + draws["hue"] / 360.0, 1.0)
    sat = tf.minimum(hsv[..., 1] * draws["saturation"], 1.0)
    val = tf.minimum(hsv[..., 2] * draws["value"], 1.0)
    image = tf.image.hsv_to_rgb(tf.stack([hue, sat, val], axis=-1)) * 255.0
    eigvec = tf.constant(values.eigvec_bgr[::-1], tf.float32)  # rows reversed: RGB channels
    offset = tf.tensordot(eigvec, draws["alpha"] * tf.constant(values.eigval_bgr, tf.float32), axes=1)
    image = tf.clip_by_value(image + offset, 0.0, 255.0)
    mean = tf.constant(values.mean_bgr[::-1], tf.float32)
    std = tf.constant(values.std_bgr[::-1], tf.float32)
    return (image - mean) / std


def seed_augment(image, draws, values):
    """The release's training augmentation (``values``: a ``SeedAugment``) of one decoded RGB image (uint8 or
    float) with the random numbers ``draws``."""
    image = seed_geometry(tf.cast(image, tf.float32), draws, values.image_size)
    return seed_colour(image, draws, values)


def seed_preprocess(values, seed=None):
    """Per-example function for ``make_dataset(preprocess=...)``: decoded dict -> augmented dict."""
    def fn(example):
        image = seed_augment(example["image"], seed_draws(values, seed), values)
        return {"image": image, "label": example["label"], "index": example["index"]}
    return fn
