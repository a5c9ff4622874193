"""``zoo features``: a converted model's representation of a folder of images (sorted file names, subfolders
too; the release's own evaluation preprocessing) or of a ``.npy`` network input, streamed in batches, rows in input order."""
import concurrent.futures
import os
import time

import numpy as np

from zoo import registry
from zoo.convert import read_meta

__all__ = ["IMAGE_EXTENSIONS", "image_files", "check_network_input", "extract"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff")
_CHANNEL_AXIS = {"NCHW": 1, "CHW": 1, "NHWC": 3, "HWC": 3}


def image_files(folder):
    """Paths of the image files in ``folder``, in sorted file-name order; in subfolders too (an ImageNet-style
    ``class/file`` tree), then sorted by the path relative to ``folder``."""
    found = []
    for base, dirs, files in os.walk(folder):
        dirs.sort()
        rel = os.path.relpath(base, folder)
        found += [os.path.normpath(os.path.join(rel, n)) for n in files if n.lower().endswith(IMAGE_EXTENSIONS)]
    if not found:
        raise ValueError("INPUT %s: no image files (%s)" % (folder, " ".join(IMAGE_EXTENSIONS)))
    return [os.path.join(folder, n) for n in sorted(found, key=lambda n: n.split(os.sep))]


def _expected(convention):
    """(layout, channel axis, (h, w) or None) of a zoo.json ``input`` convention."""
    layout = str(convention.get("layout", "")).upper()
    if layout not in _CHANNEL_AXIS:
        raise ValueError("zoo.json: input layout %r is none of %s" % (layout, ", ".join(_CHANNEL_AXIS)))
    size = convention.get("size")
    if isinstance(size, int):
        size = (size, size)
    return ("N" + layout[-3:] if len(layout) == 3 else layout), _CHANNEL_AXIS[layout], \
        None if size is None else tuple(size)


def check_network_input(array, convention, what):
    """Check a batch against the model's input convention (float32, rank 4, its layout and size); a ValueError
    naming ``what`` otherwise."""
    layout, channel_axis, size = _expected(convention)
    shape = tuple(array.shape)
    spatial = shape[2:] if channel_axis == 1 else shape[1:3]
    ok = (array.dtype == np.float32 and len(shape) == 4 and shape[channel_axis] == 3
          and (size is None or tuple(spatial) == size))
    if not ok:
        need = "[n, 3, H, W]" if channel_axis == 1 else "[n, H, W, 3]"
        if size is not None:
            need = need.replace("H", str(size[0])).replace("W", str(size[1]))
        raise ValueError("%s: a %s array of shape %s; the model takes float32 %s %s"
                         % (what, array.dtype, list(shape), layout, need))


def _image_batches(release, files, batch):
    """Batches of preprocessed images; the next batch is read and preprocessed while the current one runs."""
    with concurrent.futures.ThreadPoolExecutor(max(1, min(32, os.cpu_count() or 1))) as pool:
        pending = None
        for start in range(0, len(files), batch):
            chunk = [pool.submit(release.preprocess, f) for f in files[start:start + batch]]
            if pending is not None:
                yield np.stack([f.result() for f in pending]).astype(np.float32, copy=False)
            pending = chunk
        if pending:
            yield np.stack([f.result() for f in pending]).astype(np.float32, copy=False)


def _array_batches(path, batch):
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    for start in range(0, len(array), batch):
        yield np.ascontiguousarray(array[start:start + batch])


def extract(model_dir, input_path, out, batch=64):
    """Write the features of ``input_path`` (image folder or ``.npy``) under the model in ``model_dir`` to
    ``out`` (``[n, d]`` float32); prints the count, the dimension and images/s (from the end of the first batch
    on, when there are several); returns the array."""
    if batch < 1:
        raise ValueError("--batch %d: must be at least 1" % batch)
    meta = read_meta(model_dir)
    release = registry.get_release(meta["release"])
    convention = meta.get("input") or {}
    if os.path.isdir(input_path):
        batches, what = _image_batches(release, image_files(input_path), batch), "images of %s" % input_path
    elif input_path.endswith(".npy") and os.path.isfile(input_path):
        header = np.load(input_path, mmap_mode="r", allow_pickle=False)
        check_network_input(header, convention, "INPUT %s" % input_path)
        batches, what = _array_batches(input_path, batch), "INPUT %s" % input_path
    else:
        raise ValueError("INPUT %s: neither a folder of images nor a .npy file" % input_path)
    rows, marks = [], []
    with release.feature_extractor(model_dir, meta) as fn:
        marks.append(time.time())
        for inputs in batches:
            check_network_input(inputs, convention, what)
            feats = np.asarray(fn(inputs), np.float32)
            if feats.ndim != 2 or len(feats) != len(inputs):
                raise ValueError("release %s: feature_extractor gave shape %s for %d inputs"
                                 % (meta["release"], list(feats.shape), len(inputs)))
            rows.append(feats)
            marks.append(time.time())
    result = np.concatenate(rows)
    # images/s after the first batch (which carries the warm-up: kernel selection, first reads) when there are more
    first = 1 if len(rows) > 1 else 0
    rate = (len(result) - sum(len(r) for r in rows[:first])) / max(marks[-1] - marks[first], 1e-9)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.save(out, result)
    print("zoo features: %d images, dim %d, %.1f images/s -> %s" % (len(result), result.shape[1], rate, out))
    return result
