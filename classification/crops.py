"""Test-time geometry in numpy/OpenCV: shorter-side resize, centre crop, the 10 crops, normalisation.

Images are HxWx3 uint8 RGB arrays. ``ten_crop`` returns the four corner crops and the centre crop, then the same
five crops of the horizontally mirrored image (the release's test.py). The release's test.py adds an 11th view,
the seam-carved image (classification/seam_carving.py) of the mirrored image.
"""
import cv2
import numpy as np

INTERPOLATION = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA}


def resize_shorter(image, shorter, interpolation="bicubic", rounding="round"):
    """Resize so that the shorter side is ``shorter``, keeping the aspect ratio; the longer side is rounded
    (TensorPack) or, with ``rounding="floor"``, truncated by ``int()`` (the release)."""
    h, w = image.shape[:2]
    scale = float(shorter) / min(h, w)
    side = (lambda x: int(round(x))) if rounding == "round" else int
    size = (shorter, max(shorter, side(w * scale))) if h <= w else (max(shorter, side(h * scale)), shorter)
    size = size[::-1]
    if (w, h) == size:
        return image
    return cv2.resize(image, size, interpolation=INTERPOLATION[interpolation])


def crop(image, y, x, size):
    """The ``size`` x ``size`` window at row ``y``, column ``x``."""
    return image[y:y + size, x:x + size]


def center_offsets(height, width, size):
    """Offsets ``(y, x)`` of the centred ``size`` crop: ``(H - size) // 2``, ``(W - size) // 2``."""
    if height < size or width < size:
        raise ValueError("image of %dx%d is smaller than the %d px crop" % (height, width, size))
    return (height - size) // 2, (width - size) // 2


def center_crop(image, size):
    """The centred ``size`` x ``size`` crop."""
    y, x = center_offsets(image.shape[0], image.shape[1], size)
    return crop(image, y, x, size)


def ten_crop(image, size):
    """``[10, size, size, C]``: top-left, top-right, bottom-left, bottom-right, centre, then the same five crops
    of the mirrored image (the seed's test.py: the centre offsets ``(H - size) // 2``, ``(W - size) // 2`` are
    applied to the mirrored image too, one pixel off the centre crop's mirror when ``W - size`` is odd)."""
    h, w = image.shape[:2]
    cy, cx = center_offsets(h, w, size)
    boxes = ((0, 0), (0, w - size), (h - size, 0), (h - size, w - size), (cy, cx))
    mirrored = image[:, ::-1]
    return np.stack([crop(image, y, x, size) for y, x in boxes] + [crop(mirrored, y, x, size) for y, x in boxes])


def normalize(images, mean, std):
    """float32 ``(images / 255 - mean) / std`` over the last (channel) axis; ``mean``/``std`` in [0, 1] units."""
    return ((np.asarray(images, np.float32) / 255.0 - np.asarray(mean, np.float32))
            / np.asarray(std, np.float32)).astype(np.float32)


def test_views(image, size, shorter, crops=1, interpolation="bicubic", rounding="round", extra=None):
    """uint8 views of one image for evaluation: ``[1, size, size, 3]`` centre crop or ``[10, ...]`` 10-crop;
    ``extra(resized image)`` (e.g. the release's seam-carved view) appends one more ``size`` x ``size`` view."""
    if crops not in (1, 10):
        raise ValueError("crops must be 1 or 10, got %r" % crops)
    resized = resize_shorter(image, shorter, interpolation, rounding)
    views = center_crop(resized, size)[None] if crops == 1 else ten_crop(resized, size)
    return views if extra is None else np.concatenate([views, extra(resized)[None]])
