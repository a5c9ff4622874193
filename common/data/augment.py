"""Shared augmentation: ``AugmentConfig`` (what a reader does to each image) and the TF ops for each piece.

Images inside the pipeline are float32 HWC in [0, 255], RGB. The pieces are usable on any decoded image:
``random_resized_crop``, ``resize_shorter``, ``center_crop``, ``random_crop``, ``color_jitter``,
``random_grayscale``, ``lighting``, ``normalize``. ``preprocess`` chains them on encoded JPEG bytes in the
order of ``AugmentConfig``; the DALI reader follows the same config (see docs/data.md for its differences).
"""
import dataclasses
import math
from typing import Optional, Tuple

from common.data.schema import DCT_METHOD
from common.tf1 import tf

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# AlexNet PCA lighting (fb.resnet.torch), RGB, for images in [0, 1]; scaled by 255 here.
EIGVAL = (0.2175, 0.0188, 0.0045)
EIGVEC = ((-0.5675, 0.7192, 0.4009), (-0.5808, -0.0045, -0.8140), (-0.5836, -0.6948, 0.4203))
GRAY_WEIGHTS = (0.299, 0.587, 0.114)
CROPS = ("random_resized", "center", "resize", "random", "none")
INTERPOLATIONS = ("bilinear", "bicubic", "area", "bilinear_antialias")
LAYOUTS = ("NHWC", "NCHW")
JITTER_OPS = ("brightness", "contrast", "saturation", "hue")


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Per-image preprocessing, applied in this order: crop/resize, flip, grayscale and colour jitter (order
    set by ``grayscale_first``), lighting, normalise, layout.

    crop: "random_resized" (area fraction ``scale``, aspect ``ratio``, torchvision's 10 tries + centre fallback),
    "center" (shorter side to ``resize_shorter``, centre ``size`` crop), "random" (shorter side to
    ``resize_shorter``, random ``size`` crop), "resize" (whole image to ``size`` x ``size``), "none" (as decoded).
    color_jitter: (brightness, contrast, saturation, hue) strengths as torchvision's ColorJitter, applied in a
    random order per image. normalize: float32 ``(x / 255 - mean) / std``; False keeps uint8.
    """
    size: int = 224
    crop: str = "center"
    scale: Tuple[float, float] = (0.08, 1.0)
    ratio: Tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0)
    resize_shorter: Optional[int] = None
    interpolation: str = "bilinear"
    flip: bool = False
    color_jitter: Optional[Tuple[float, float, float, float]] = None
    grayscale_prob: float = 0.0
    grayscale_first: bool = True
    lighting_std: float = 0.0
    normalize: bool = True
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD
    layout: str = "NHWC"

    def __post_init__(self):
        for name, value, valid in (("crop", self.crop, CROPS), ("interpolation", self.interpolation, INTERPOLATIONS),
                                   ("layout", self.layout, LAYOUTS)):
            if value not in valid:
                raise ValueError("AugmentConfig.%s=%r: expected one of %s" % (name, value, ", ".join(valid)))
        if self.color_jitter is not None and len(self.color_jitter) != 4:
            raise ValueError("AugmentConfig.color_jitter must be (brightness, contrast, saturation, hue)")
        if not 0 <= self.grayscale_prob <= 1:
            raise ValueError("AugmentConfig.grayscale_prob must be in [0, 1], got %r" % self.grayscale_prob)

    @property
    def shorter_side(self):
        """Shorter side before a centre/random crop (default: size * 256 / 224, as 256 -> 224 on ImageNet)."""
        return self.resize_shorter or int(round(self.size * 256 / 224))


def sub_seed(seed, k):
    """Op seed ``seed + k`` (None stays None): ops given the same op seed would draw the same numbers."""
    return None if seed is None else seed + k


def random_resized_crop_window(height, width, scale, ratio, attempts=10, seed=None):
    """torchvision's RandomResizedCrop window ``(y, x, h, w)`` (int32) of a ``height`` x ``width`` image.

    ``attempts`` candidates with area fraction U(scale) and log-uniform aspect ratio; the first that fits is
    placed uniformly; if none fits, the largest centred crop with the aspect clamped to ``ratio``.
    """
    hf, wf = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    area = hf * wf * tf.random.uniform([attempts], scale[0], scale[1], seed=sub_seed(seed, 0))
    aspect = tf.exp(tf.random.uniform([attempts], math.log(ratio[0]), math.log(ratio[1]), seed=sub_seed(seed, 1)))
    w = tf.cast(tf.round(tf.sqrt(area * aspect)), tf.int32)
    h = tf.cast(tf.round(tf.sqrt(area / aspect)), tf.int32)
    fits = tf.logical_and(tf.logical_and(w > 0, w <= width), tf.logical_and(h > 0, h <= height))
    first = tf.argmax(tf.cast(fits, tf.int32), output_type=tf.int32)
    in_ratio = wf / hf
    fb_w = tf.cast(tf.where(in_ratio < ratio[0], wf, tf.where(in_ratio > ratio[1], tf.round(hf * ratio[1]), wf)),
                   tf.int32)
    fb_h = tf.cast(tf.where(in_ratio < ratio[0], tf.round(wf / ratio[0]), hf), tf.int32)
    found = tf.reduce_any(fits)
    h = tf.where(found, h[first], fb_h)
    w = tf.where(found, w[first], fb_w)
    u = tf.random.uniform([2], 0.0, 1.0, seed=sub_seed(seed, 2))
    y = tf.where(found, tf.cast(u[0] * tf.cast(height - h + 1, tf.float32), tf.int32), (height - h) // 2)
    x = tf.where(found, tf.cast(u[1] * tf.cast(width - w + 1, tf.float32), tf.int32), (width - w) // 2)
    return tf.minimum(y, height - h), tf.minimum(x, width - w), h, w


def resize(image, size_hw, interpolation="bilinear"):
    """Resize a float HWC image to ``size_hw`` (half-pixel centres for bilinear/bicubic, as PIL and DALI);
    "bilinear_antialias" widens the linear filter by the scale when shrinking (DALI's and PIL's antialiasing,
    TF 2's ``tf.image.resize(..., antialias=True)``)."""
    batch = image[None]
    if interpolation == "bilinear_antialias":
        size_hw = tf.convert_to_tensor(size_hw, tf.int32)
        scale = tf.cast(size_hw, tf.float32) / tf.cast(tf.shape(image)[:2], tf.float32)
        out = tf.raw_ops.ScaleAndTranslate(images=batch, size=size_hw, scale=scale, translation=tf.zeros([2]),
                                           kernel_type="triangle", antialias=True)
    elif interpolation == "area":
        out = tf.image.resize_area(batch, size_hw)
    elif interpolation == "bicubic":
        out = tf.image.resize_bicubic(batch, size_hw, half_pixel_centers=True)
    else:
        out = tf.image.resize_bilinear(batch, size_hw, half_pixel_centers=True)
    return tf.clip_by_value(out[0], 0.0, 255.0)


def shorter_side_size(height, width, shorter):
    """``(h, w)`` int32 after resizing the shorter side to ``shorter`` (longer side truncated, as torchvision)."""
    hf, wf = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    small = tf.minimum(hf, wf)
    new_h = tf.where(hf <= wf, float(shorter), tf.floor(shorter * hf / small))
    new_w = tf.where(hf <= wf, tf.floor(shorter * wf / small), float(shorter))
    return tf.cast(new_h, tf.int32), tf.cast(new_w, tf.int32)


def resize_shorter(image, shorter, interpolation="bilinear"):
    """Resize so that the shorter side is ``shorter``, keeping the aspect ratio."""
    shape = tf.shape(image)
    return resize(image, tf.stack(shorter_side_size(shape[0], shape[1], shorter)), interpolation)


def center_crop(image, size):
    """Central ``size`` x ``size`` crop at offsets ``round((H - size) / 2)``, ``round((W - size) / 2)``."""
    shape = tf.shape(image)
    y = tf.cast(tf.round(tf.cast(shape[0] - size, tf.float32) / 2.0), tf.int32)
    x = tf.cast(tf.round(tf.cast(shape[1] - size, tf.float32) / 2.0), tf.int32)
    return tf.image.crop_to_bounding_box(image, y, x, size, size)


def random_crop(image, size, seed=None):
    """Uniformly placed ``size`` x ``size`` crop."""
    return tf.image.random_crop(image, tf.stack([size, size, tf.shape(image)[2]]), seed=seed)


def random_resized_crop(image, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), interpolation="bilinear",
                        seed=None):
    """torchvision's RandomResizedCrop of a decoded image, resized to ``size`` x ``size``."""
    shape = tf.shape(image)
    y, x, h, w = random_resized_crop_window(shape[0], shape[1], scale, ratio, seed=seed)
    return resize(image[y:y + h, x:x + w], [size, size], interpolation)


def grayscale(image):
    """ITU-R 601 luma ``0.299 R + 0.587 G + 0.114 B`` replicated to 3 channels."""
    gray = tf.tensordot(image, tf.constant(GRAY_WEIGHTS, tf.float32), axes=[[2], [0]])[..., None]
    return tf.tile(gray, [1, 1, 3])


def random_grayscale(image, prob, seed=None):
    """``grayscale(image)`` with probability ``prob``."""
    return tf.cond(tf.random.uniform([], seed=seed) < prob, lambda: grayscale(image), lambda: image)


def adjust_brightness(image, factor):
    """``factor * image``, clipped to [0, 255]."""
    return tf.clip_by_value(image * factor, 0.0, 255.0)


def adjust_contrast(image, factor):
    """Blend with the mean grey level: ``factor * image + (1 - factor) * mean(gray)``, clipped."""
    mean = tf.reduce_mean(grayscale(image)[..., 0])
    return tf.clip_by_value(factor * image + (1.0 - factor) * mean, 0.0, 255.0)


def adjust_saturation(image, factor):
    """Blend with the grey image: ``factor * image + (1 - factor) * gray``, clipped."""
    return tf.clip_by_value(factor * image + (1.0 - factor) * grayscale(image), 0.0, 255.0)


def adjust_hue(image, delta):
    """Rotate the hue by ``delta`` (fraction of the colour circle, in [-0.5, 0.5])."""
    return tf.clip_by_value(tf.image.adjust_hue(image / 255.0, delta) * 255.0, 0.0, 255.0)


def apply_jitter(image, factors, order):
    """Apply the colour ops of ``JITTER_OPS`` with ``factors`` [4] in the permutation ``order`` [4] (int32)."""
    ops = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)
    for step in range(4):
        branches = [lambda op=op, k=k: op(image, factors[k]) for k, op in enumerate(ops)]
        image = tf.switch_case(order[step], branches)
    return image


def color_jitter(image, strengths, seed=None):
    """torchvision's ColorJitter(brightness, contrast, saturation, hue): factors U(1 - s, 1 + s) (hue shift
    U(-s, s)), the four ops in a uniformly random order."""
    b, c, s, h = strengths
    low = tf.constant([max(0.0, 1 - b), max(0.0, 1 - c), max(0.0, 1 - s), -h], tf.float32)
    high = tf.constant([1 + b, 1 + c, 1 + s, h], tf.float32)
    factors = low + (high - low) * tf.random.uniform([4], seed=sub_seed(seed, 0))
    order = tf.random.shuffle(tf.range(4, dtype=tf.int32), seed=sub_seed(seed, 1))
    return apply_jitter(image, factors, order)


def lighting_offset(alpha):
    """Per-channel RGB offset (0-255 scale) of AlexNet PCA lighting for component weights ``alpha`` [3]."""
    eigval = tf.constant(EIGVAL, tf.float32) * 255.0
    return tf.tensordot(tf.constant(EIGVEC, tf.float32), alpha * eigval, axes=1)


def lighting(image, std, seed=None):
    """AlexNet PCA lighting noise: add ``eigvec @ (alpha * eigval)`` with ``alpha ~ N(0, std)``, clipped."""
    alpha = tf.random.normal([3], 0.0, std, seed=seed)
    return tf.clip_by_value(image + lighting_offset(alpha), 0.0, 255.0)


def normalize(image, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """``(image / 255 - mean) / std`` per channel (last axis), float32."""
    return (image / 255.0 - tf.constant(mean, tf.float32)) / tf.constant(std, tf.float32)


def decode_and_crop(encoded, cfg, seed=None):
    """Decode JPEG bytes (RGB) and apply the crop/resize of ``cfg``; HWC, uint8 for crop "none", else float32."""
    if cfg.crop == "random_resized":
        shape = tf.image.extract_jpeg_shape(encoded)
        y, x, h, w = random_resized_crop_window(shape[0], shape[1], cfg.scale, cfg.ratio, seed=seed)
        image = tf.image.decode_and_crop_jpeg(encoded, tf.stack([y, x, h, w]), channels=3, dct_method=DCT_METHOD)
        return resize(tf.cast(image, tf.float32), [cfg.size, cfg.size], cfg.interpolation)
    image = tf.image.decode_jpeg(encoded, channels=3, dct_method=DCT_METHOD)
    if cfg.crop == "none":
        return image
    image = tf.cast(image, tf.float32)
    if cfg.crop == "resize":
        return resize(image, [cfg.size, cfg.size], cfg.interpolation)
    if cfg.crop == "center":
        return center_crop(resize_shorter(image, cfg.shorter_side, cfg.interpolation), cfg.size)
    return random_crop(resize_shorter(image, cfg.shorter_side, cfg.interpolation), cfg.size, seed)


def output_dtype(cfg):
    """dtype of ``preprocess``'s images: float32 when ``cfg.normalize``, else uint8."""
    return tf.float32 if cfg.normalize else tf.uint8


def preprocess(encoded, cfg, seed=None):
    """Encoded JPEG -> augmented image per ``cfg``: float32 normalised, or uint8 when ``cfg.normalize`` is False."""
    image = decode_and_crop(encoded, cfg, sub_seed(seed, 0))
    if cfg.flip:
        image = tf.image.random_flip_left_right(image, seed=sub_seed(seed, 10))
    colour = []
    if cfg.grayscale_prob > 0:
        colour.append(lambda img: random_grayscale(img, cfg.grayscale_prob, sub_seed(seed, 20)))
    if cfg.color_jitter is not None:
        jitter = lambda img: color_jitter(img, cfg.color_jitter, sub_seed(seed, 30))  # noqa: E731
        colour.insert(len(colour) if cfg.grayscale_first else 0, jitter)
    if colour or cfg.lighting_std > 0 or cfg.normalize:
        image = tf.cast(image, tf.float32)  # no-op unless crop "none" kept the decoder's uint8
    for op in colour:
        image = op(image)
    if cfg.lighting_std > 0:
        image = lighting(image, cfg.lighting_std, sub_seed(seed, 40))
    if cfg.normalize:
        image = normalize(image, cfg.mean, cfg.std)
    elif image.dtype != tf.uint8:
        image = tf.cast(tf.round(image), tf.uint8)
    return tf.transpose(image, [2, 0, 1]) if cfg.layout == "NCHW" else image
