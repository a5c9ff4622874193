"""The release's preprocessing mini-language: a comma-separated op string applied to an example dict.

    fn = get_preprocess_fn("resize,to_gray,crop,crop_patches,standardization", is_training=True,
                           resize_size="292,292", grayscale_probability=0.66, crop_size=255,
                           splits_per_side=3, patch_jitter=21)
    data = fn({"image": uint8_hwc, "label": label})   # data["image"]: [9, 64, 64, 3]

Ops that act on ``image`` take one HWC image, a BHWC batch or any ``...HWC`` stack (mapped image by image,
so random choices are independent per image). Inception preprocessing follows TF-slim's
``inception_preprocessing.preprocess_image`` with its defaults (fast_mode=True).
"""
import collections

from common.tf1 import tf

PARAMS = {"resize_size": None, "crop_size": None, "smaller_size": None, "splits_per_side": None,
          "patch_jitter": 0, "grayscale_probability": 1.0, "num_of_inception_patches": None,
          "randomize_resize_method": False}
# a run's preprocessing: ``ops`` the comma-separated op string, then the parameters of PARAMS (None: the default)
Preprocessing = collections.namedtuple("Preprocessing", ("ops",) + tuple(PARAMS), defaults=(None,) * len(PARAMS))


def parse_size(value, name):
    """``"H,W"``, ``"S"``, an int or a pair -> ``(H, W)`` ints; a bad value is a ValueError naming ``name``."""
    if isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = [p for p in str(value).split(",") if p.strip()]
    try:
        sizes = [int(p) for p in parts]
    except (TypeError, ValueError):
        sizes = []
    if len(sizes) == 1:
        sizes = sizes * 2
    if len(sizes) != 2 or min(sizes) <= 0:
        raise ValueError("%s=%r: expected a positive size 'H,W' or 'S'" % (name, value))
    return tuple(sizes)


def map_images(fn, images, dtype=None):
    """Apply ``fn`` (one HWC image -> tensor) to an image, a batch or a ``...HWC`` stack of images."""
    if images.shape.ndims == 3:
        return fn(images)
    lead_static = images.shape[:-3]
    lead = tf.shape(images)[:-3]
    flat = tf.reshape(images, tf.concat([[-1], tf.shape(images)[-3:]], 0))
    flat.set_shape([None] + images.shape[-3:].as_list())
    out = tf.map_fn(fn, flat, dtype=dtype or images.dtype)
    result = tf.reshape(out, tf.concat([lead, tf.shape(out)[1:]], 0))
    result.set_shape(lead_static.concatenate(out.shape[1:]))
    return result


def _to_float01(image):
    return tf.image.convert_image_dtype(image, tf.float32) if image.dtype != tf.float32 else image


def distorted_crop(image):
    """Slim's distorted bounding-box crop of the whole image (TF1 defaults); no resize afterwards."""
    whole = tf.constant([[[0.0, 0.0, 1.0, 1.0]]])
    begin, size, _ = tf.image.sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=whole, min_object_covered=0.1, aspect_ratio_range=[0.75, 1.33],
        area_range=[0.05, 1.0], max_attempts=100, use_image_if_no_bounding_boxes=True)
    return tf.slice(image, begin, size)


def inception_preprocess(image, is_training, height, width):
    """Slim ``preprocess_image(image, height, width, is_training)`` with fast_mode=True -> float in [-1, 1]."""
    image = _to_float01(image)
    if is_training:
        image = distorted_crop(image)
        image = tf.image.resize_images(image, [height, width])
        image = tf.image.random_flip_left_right(image)
        image = tf.image.random_brightness(image, max_delta=32.0 / 255.0)
        image = tf.image.random_saturation(image, lower=0.5, upper=1.5)
        image = tf.clip_by_value(image, 0.0, 1.0)
    else:
        image = tf.image.central_crop(image, central_fraction=0.875)
        image = tf.image.resize_images(image, [height, width])
    image.set_shape([height, width, 3])
    return (image - 0.5) * 2.0


def _resize(image, size, randomize):
    if not randomize:
        return tf.cast(tf.image.resize_images(image, size), tf.float32)
    methods = [tf.image.ResizeMethod.BILINEAR, tf.image.ResizeMethod.NEAREST_NEIGHBOR,
               tf.image.ResizeMethod.BICUBIC]
    choice = tf.random_uniform([], 0, len(methods), dtype=tf.int32)
    branches = [(tf.equal(choice, i), (lambda m=m: tf.cast(tf.image.resize_images(
        image, size, method=m, align_corners=True), tf.float32))) for i, m in enumerate(methods)]
    out = tf.case(branches, exclusive=True)
    out.set_shape(list(size) + [image.shape[-1]])
    return out


def _resize_small(image, smaller):
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    scale = smaller / tf.minimum(h, w)
    size = tf.cast(tf.round(tf.stack([h * scale, w * scale])), tf.int32)
    return tf.image.resize_images(image, size, method=tf.image.ResizeMethod.AREA)


def _crop(image, size, random):
    height, width = size
    shape = image.shape.as_list()
    if shape[0] is not None and shape[1] is not None and (shape[0] < height or shape[1] < width):
        raise ValueError("crop_size=%d,%d is larger than the %dx%d image" % (height, width, shape[0], shape[1]))
    if random:
        return tf.random_crop(image, [height, width, tf.shape(image)[2]])
    dims = tf.shape(image)
    return tf.image.crop_to_bounding_box(image, (dims[0] - height) // 2, (dims[1] - width) // 2, height, width)


def _to_gray(image, probability):
    gray = tf.reduce_mean(tf.cast(image, tf.float32), axis=2, keepdims=True)
    if image.dtype.is_integer:
        gray = tf.floor(gray)
    gray = tf.tile(tf.cast(gray, image.dtype), [1, 1, 3])
    return tf.cond(tf.random_uniform([]) < probability, lambda: gray, lambda: image)


def patch_geometry(height, width, splits, jitter):
    """Cell and patch sizes of ``crop_patches`` on an HxW image; a grid that does not fit is a ValueError."""
    cell_h, cell_w = height // max(splits, 1), width // max(splits, 1)
    patch_h, patch_w = cell_h - jitter, cell_w - jitter
    if splits < 1 or jitter < 0 or patch_h < 1 or patch_w < 1:
        raise ValueError("crop_patches: a %dx%d image is too small for splits_per_side=%d with patch_jitter=%d"
                         % (height, width, splits, jitter))
    return (cell_h, cell_w), (patch_h, patch_w)


def _crop_patches(image, is_training, splits, jitter):
    height, width, channels = image.shape.as_list()
    if height is None or width is None:
        raise ValueError("crop_patches needs a static image size: put 'resize' or 'crop' before it")
    (cell_h, cell_w), (patch_h, patch_w) = patch_geometry(height, width, splits, jitter)
    patches = []
    for row in range(splits):
        for col in range(splits):
            cell = image[row * cell_h:(row + 1) * cell_h, col * cell_w:(col + 1) * cell_w]
            if is_training and jitter:
                cell = tf.random_crop(cell, [patch_h, patch_w, tf.shape(image)[2]])
            else:
                cell = cell[jitter // 2:jitter // 2 + patch_h, jitter // 2:jitter // 2 + patch_w]
            patches.append(cell)
    out = tf.stack(patches)
    out.set_shape([splits * splits, patch_h, patch_w, channels])
    return out


def _rotate(data):
    image = data["image"]
    rotations = tf.stack([tf.image.rot90(image, k) for k in range(4)], axis=-4)
    labels = tf.constant([0, 1, 2, 3], tf.int64)
    if image.shape.ndims > 3:
        labels = tf.tile(labels[None], [tf.shape(image)[0], 1])
    return dict(data, image=rotations, label=labels)


def _on_image(fn, dtype=None):
    """Wrap a per-image function as an op on the example dict."""
    def op(data):
        return dict(data, image=map_images(fn, data["image"], dtype))
    return op


def _identity(data):
    return data


def _param(p, name, op):
    if p[name] is None:
        raise ValueError("preprocessing op %r needs the parameter %s" % (op, name))
    return p[name]


def _op_scale(low):
    return lambda t, p: lambda d: dict(d, image=tf.cast(d["image"], tf.float32) * ((1.0 - low) / 255.0) + low)


def _op_resize(t, p):
    size = parse_size(_param(p, "resize_size", "resize"), "resize_size")
    return _on_image(lambda x: _resize(x, size, t and p["randomize_resize_method"]), tf.float32)


def _op_resize_small(t, p):
    smaller = int(_param(p, "smaller_size", "resize_small"))
    return _on_image(lambda x: _resize_small(x, smaller), tf.float32)


def _op_crop(central):
    def build(t, p):
        size = parse_size(_param(p, "crop_size", "central_crop" if central else "crop"), "crop_size")
        return _on_image(lambda x: _crop(x, size, t and not central))
    return build


def _op_inception(t, p):
    size = parse_size(_param(p, "resize_size", "inception_preprocess"), "resize_size")
    return _on_image(lambda x: inception_preprocess(x, t, *size), tf.float32)


def _op_inception_patches(t, p):
    op = "crop_inception_preprocess_patches"
    size = parse_size(_param(p, "resize_size", op), "resize_size")
    copies = int(_param(p, "num_of_inception_patches", op))
    return _on_image(lambda x: tf.stack([inception_preprocess(x, t, *size) for _ in range(copies)]), tf.float32)


def _op_crop_patches(t, p):
    splits = int(_param(p, "splits_per_side", "crop_patches"))
    return _on_image(lambda x: _crop_patches(x, t, splits, int(p["patch_jitter"])))


OPS = {
    "plain_preprocess": lambda t, p: _identity,
    "0_to_1": _op_scale(0.0),
    "-1_to_1": _op_scale(-1.0),
    "resize": _op_resize,
    "resize_small": _op_resize_small,
    "crop": _op_crop(central=False),
    "central_crop": _op_crop(central=True),
    "inception_crop": lambda t, p: _on_image(distorted_crop) if t else _identity,
    "flip_lr": lambda t, p: _on_image(tf.image.random_flip_left_right) if t else _identity,
    "inception_preprocess": _op_inception,
    "crop_inception_preprocess_patches": _op_inception_patches,
    "to_gray": lambda t, p: _on_image(lambda x: _to_gray(x, float(p["grayscale_probability"]))),
    "crop_patches": _op_crop_patches,
    "standardization": lambda t, p: _on_image(tf.image.per_image_standardization, tf.float32),
    "rotate": lambda t, p: _rotate,
}


def get_preprocess_fn(spec, is_training, **params):
    """Function applying the comma-separated ops of ``spec`` left to right to an ``{"image", "label"}`` dict.

    ``params`` carries the release's flag names (see ``PARAMS``); an unknown op or parameter, or a missing
    parameter an op needs, is a ValueError naming it.
    """
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise ValueError("unknown preprocessing parameter(s) %s; valid: %s" % (", ".join(unknown), ", ".join(PARAMS)))
    p = dict(PARAMS)
    p.update({k: v for k, v in params.items() if v is not None})
    names = [n.strip() for n in str(spec).split(",") if n.strip()]
    if not names:
        raise ValueError("empty preprocessing string; valid ops: %s" % ", ".join(sorted(OPS)))
    for name in names:
        if name not in OPS:
            raise ValueError("unknown preprocessing op %r in %r; valid ops: %s" % (name, spec, ", ".join(sorted(OPS))))
    fns = [OPS[name](is_training, p) for name in names]

    def preprocess(data):
        data = dict(data)
        for fn in fns:
            data = fn(data)
        return data
    return preprocess
