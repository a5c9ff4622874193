"""The release's training augmentation (classification/augment.py, ``augment: "seed"``) as a DALI pipeline.

Same steps and constants as the tf.data version: aspect stretch of the long side, random short side, random crop,
flip, HSV jitter, PCA lighting, normalisation. Differences, all DALI's: sizes and crop offsets are computed in
float32 (the tf.data version: float64, as the release's Python); DALI's resize filter; ``fn.hsv`` applies the
hue/saturation/value change as one linear colour transform (no cap of S at 1 and V at 255 before the lighting
clip); HSV and lighting run before the crop (they act per pixel, so the order does not change the result). The
values come as a ``classification.recipe.SeedAugment``.
"""
import nvidia.dali.plugin.tf as dali_tf
from nvidia.dali import fn, pipeline_def, types
from nvidia.dali import math as dali_math

from common.data.dali_reader import NUM_THREADS
from common.data.records import list_shards
from common.data.schema import dali_features, index_path
from common.tf1 import tf


def _uniform(low, high):
    """U(low, high) per sample; a constant when the range is empty."""
    return fn.random.uniform(range=[float(low), float(high)]) if high > low else float(low)


def _geometry(images, values):
    """Aspect stretch, then short side to s ~ U{short_side} (``int()`` sizes)."""
    shape = fn.cast(images.shape(), dtype=types.FLOAT)
    h, w = shape[0], shape[1]
    r = _uniform(*values.aspect_jitter)
    wide = fn.cast(h < w, dtype=types.FLOAT)
    h1 = wide * h + (1.0 - wide) * dali_math.floor(h * r)
    w1 = wide * dali_math.floor(w * r) + (1.0 - wide) * w
    images = fn.resize(images, resize_x=w1, resize_y=h1, interp_type=types.INTERP_LINEAR, antialias=False)
    lo, hi = values.short_side  # DALI's integer range includes hi
    s = fn.cast(fn.random.uniform(range=[lo, hi], dtype=types.INT32), dtype=types.FLOAT) if hi > lo else float(lo)
    wide1 = fn.cast(h1 < w1, dtype=types.FLOAT)
    ratio = s / (wide1 * h1 + (1.0 - wide1) * w1)
    return fn.resize(images, resize_x=dali_math.floor(w1 * ratio), resize_y=dali_math.floor(h1 * ratio),
                     interp_type=types.INTERP_LINEAR, antialias=False)


def _colour(images, values):
    """HSV jitter and PCA lighting (RGB rows of the release's BGR eigenvectors), clipped to [0, 255]."""
    images = fn.hsv(fn.cast(images, dtype=types.FLOAT), hue=_uniform(-values.hue_jitter, values.hue_jitter),
                    saturation=_uniform(1 - values.saturation_jitter, 1 + values.saturation_jitter),
                    value=_uniform(1 - values.value_jitter, 1 + values.value_jitter), dtype=types.FLOAT)
    alpha = fn.random.normal(shape=[3], stddev=values.lighting_std)
    eigvec, eigval = values.eigvec_bgr[::-1], values.eigval_bgr
    offset = [sum(alpha[j] * (eigvec[c][j] * eigval[j]) for j in range(3)) for c in range(3)]
    return dali_math.clamp(images + fn.stack(*offset), 0.0, 255.0)


def build_seed_pipeline(files, values, batch_size, num_shards, shard_index, seed, device):
    """The DALI pipeline (not yet built) of ``(image, label, index)`` training batches, NHWC float32."""
    @pipeline_def
    def pipe():
        rec = fn.readers.tfrecord(path=files, index_path=[index_path(f) for f in files], features=dali_features(),
                                  random_shuffle=True, shard_id=shard_index, num_shards=num_shards, name="Reader")
        images = fn.decoders.image(rec["images"], device="mixed" if device == "gpu" else "cpu", output_type=types.RGB)
        images = _colour(_geometry(images, values), values)
        size = values.image_size
        images = fn.crop_mirror_normalize(images, dtype=types.FLOAT, output_layout="HWC", crop=(size, size),
                                          crop_pos_x=_uniform(0, 1), crop_pos_y=_uniform(0, 1),
                                          mean=list(values.mean_bgr[::-1]), std=list(values.std_bgr[::-1]),
                                          mirror=fn.random.coin_flip(probability=0.5))
        labels, index = rec["labels"], rec["index"]
        if device == "gpu":
            labels, index = labels.gpu(), index.gpu()
        return images, labels, index

    return pipe(batch_size=batch_size, num_threads=NUM_THREADS, device_id=shard_index if device == "gpu" else None,
                seed=seed)


def seed_dali_dataset(record_dir, values, batch_size, num_shards=1, shard_index=0, seed=None, device="cpu"):
    """Endless DALI ``tf.data.Dataset`` of ``record_dir``'s train split, augmented with ``values`` (a
    ``SeedAugment``)."""
    pipe = build_seed_pipeline(list_shards(record_dir, "train"), values, batch_size, num_shards, shard_index, seed,
                               device)
    size = values.image_size
    with tf.device("/gpu:%d" % shard_index if device == "gpu" else "/cpu:0"):
        ds = dali_tf.DALIDataset(pipeline=pipe, batch_size=batch_size,
                                 output_shapes=([batch_size, size, size, 3], [batch_size], [batch_size]),
                                 output_dtypes=(tf.float32, tf.int64, tf.int64), device_id=pipe.device_id)
    ds.iterator_device = "/gpu:%d" % shard_index if device == "gpu" else None
    return ds
