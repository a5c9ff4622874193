"""Image files for the record builders: a decode check and the bytes to store (JPEG as read, else re-encoded;
16-bit images scaled to 8 bits, so a 16-bit greyscale PNG keeps its picture)."""
import io

import numpy as np
from PIL import Image

JPEG_MODES = ("RGB", "L")  # decodable to RGB by both TF and DALI; CMYK and non-JPEG files are re-encoded
OK, REENCODE = "ok", "reencode"


def check_image(path):
    """``"ok"`` (store as read), ``"reencode"`` (not an RGB/grey JPEG) or ``"error: ..."`` (cannot decode)."""
    try:
        with Image.open(path) as img:
            fmt, mode = img.format, img.mode
            if fmt == "JPEG":
                img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))  # fast DCT-scaled decode
            img.load()
    except Exception as e:  # PIL raises many types (OSError, SyntaxError, ValueError...) for bad files
        return "error: %s" % (str(e).splitlines() or [type(e).__name__])[0]
    return OK if fmt == "JPEG" and mode in JPEG_MODES else REENCODE


def jpeg_bytes(path, reencode=False):
    """The file's bytes, or (``reencode``) the image converted to RGB and encoded as JPEG quality 100."""
    if not reencode:
        with open(path, "rb") as f:
            return f.read()
    buf = io.BytesIO()
    with Image.open(path) as img:
        to_8_bits(img).convert("RGB").save(buf, "JPEG", quality=100)
    return buf.getvalue()


def to_8_bits(img):
    """``img`` with 16-bit integer pixels (modes ``I;16*``, ``I``) scaled to 0..255 (x / 257), else unchanged."""
    if not img.mode.startswith("I"):
        return img
    pixels = np.asarray(img, dtype=np.float64)
    return Image.fromarray(np.clip(np.round(pixels / 257.0), 0, 255).astype(np.uint8), "L")
