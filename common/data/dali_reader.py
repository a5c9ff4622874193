"""The DALI reader: the same shards and ``AugmentConfig`` as the tf.data reader, as a ``DALIDataset``.

CPU backend by default; ``device="gpu"`` decodes with nvJPEG ("mixed") and augments on the GPU of tower
``shard_index``. Build the dataset's iterator with ``tf.data.make_initializable_iterator`` (a one-shot iterator
cannot hold a GPU DALI dataset). Differences from the tf.data augmentation are listed in docs/data.md.
"""
import os

import nvidia.dali.plugin.tf as dali_tf
from nvidia.dali import fn, pipeline_def, types
from nvidia.dali import math as dali_math

from common.data.augment import EIGVAL, EIGVEC
from common.data.records import list_shards
from common.data.schema import dali_features, index_path
from common.tf1 import tf

INTERP = {"bilinear": (types.INTERP_LINEAR, False), "bicubic": (types.INTERP_CUBIC, False),
          "area": (types.INTERP_LINEAR, True),  # (filter, antialias): antialiased linear approximates area
          "bilinear_antialias": (types.INTERP_LINEAR, True)}
NUM_THREADS = min(4, os.cpu_count() or 1)


def _uniform(low, high):
    return fn.random.uniform(range=[low, high])


def _decode_and_crop(jpegs, cfg, decoder):
    interp, antialias = INTERP[cfg.interpolation]
    if cfg.crop == "random_resized":
        images = fn.decoders.image_random_crop(jpegs, device=decoder, output_type=types.RGB,
                                               random_area=list(cfg.scale), random_aspect_ratio=list(cfg.ratio),
                                               num_attempts=10)
        return fn.resize(images, resize_x=cfg.size, resize_y=cfg.size, interp_type=interp, antialias=antialias)
    images = fn.decoders.image(jpegs, device=decoder, output_type=types.RGB)
    if cfg.crop == "resize":
        return fn.resize(images, resize_x=cfg.size, resize_y=cfg.size, interp_type=interp, antialias=antialias)
    if cfg.crop in ("center", "random"):
        return fn.resize(images, resize_shorter=cfg.shorter_side, interp_type=interp, antialias=antialias)
    return images


def _colour(images, cfg):
    """Grayscale (saturation 0 with probability p) and jitter as one ``color_twist`` (fixed order)."""
    saturation = 1.0
    if cfg.grayscale_prob > 0:
        saturation = 1.0 - fn.cast(fn.random.coin_flip(probability=cfg.grayscale_prob), dtype=types.FLOAT)
    args = {}
    if cfg.color_jitter is not None:
        b, c, s, h = cfg.color_jitter
        args = dict(brightness=_uniform(max(0.0, 1 - b), 1 + b), contrast=_uniform(max(0.0, 1 - c), 1 + c),
                    hue=_uniform(-360.0 * h, 360.0 * h))
        saturation = saturation * _uniform(max(0.0, 1 - s), 1 + s)
    if args or cfg.grayscale_prob > 0:
        images = fn.color_twist(images, saturation=saturation, **args)
    return images


def _lighting(images, std):
    alpha = fn.random.normal(shape=[3], stddev=std)
    offset = [sum(alpha[j] * (EIGVEC[c][j] * EIGVAL[j] * 255.0) for j in range(3)) for c in range(3)]
    return dali_math.clamp(images + fn.stack(*offset), 0.0, 255.0)


def build_pipeline(files, cfg, batch_size, shuffle, num_shards, shard_index, seed, device):
    """The DALI pipeline (not yet built) producing ``(image, label, index)`` per ``cfg`` from ``files``: each
    shard's epochs kept apart (padded with copies of its last record to whole batches)."""
    @pipeline_def
    def pipe():
        rec = fn.readers.tfrecord(path=files, index_path=[index_path(f) for f in files], features=dali_features(),
                                  random_shuffle=shuffle, shard_id=shard_index, num_shards=num_shards,
                                  stick_to_shard=True, pad_last_batch=True, name="Reader")
        images = _decode_and_crop(rec["images"], cfg, "mixed" if device == "gpu" else "cpu")
        images = _colour(images, cfg)
        if cfg.lighting_std > 0:
            images = _lighting(images, cfg.lighting_std)
        crop = {}
        if cfg.crop in ("center", "random"):
            crop = dict(crop=(cfg.size, cfg.size))
            if cfg.crop == "random":
                crop.update(crop_pos_x=_uniform(0.0, 1.0), crop_pos_y=_uniform(0.0, 1.0))
        mean, std = ([255.0 * m for m in cfg.mean], [255.0 * s for s in cfg.std]) if cfg.normalize else (0.0, 1.0)
        images = fn.crop_mirror_normalize(images, dtype=types.FLOAT if cfg.normalize else types.UINT8,
                                          output_layout="CHW" if cfg.layout == "NCHW" else "HWC", mean=mean,
                                          std=std, mirror=fn.random.coin_flip(probability=0.5) if cfg.flip else 0,
                                          **crop)
        labels, index = rec["labels"], rec["index"]
        if device == "gpu":
            labels, index = labels.gpu(), index.gpu()
        return images, labels, index

    device_id = shard_index if device == "gpu" else None
    return pipe(batch_size=batch_size, num_threads=NUM_THREADS, device_id=device_id, seed=seed)


def count_records(files):
    """Number of records in ``files``, from their DALI index files (one line per record)."""
    total = 0
    for f in files:
        with open(index_path(f)) as idx:
            total += sum(1 for _ in idx)
    return total


def shard_size(total, num_shards, shard_index):
    """Records in DALI's shard ``shard_index`` of ``num_shards`` (contiguous ranges of ``total``)."""
    return total * (shard_index + 1) // num_shards - total * shard_index // num_shards


def epoch_batches(total, num_shards, batch_size):
    """Batches DALI yields per epoch and shard: every shard padded to ``ceil(total / num_shards)`` records (with
    copies of its last one), then to whole batches."""
    padded = -(-total // num_shards)
    return -(-padded // batch_size)


def _epoch_batches(ds, count, per_epoch, batch_size, repeat, drop_remainder):
    """Cut DALI's padded stream (``per_epoch`` batches per pass, the last ones holding copies of the shard's last
    record) to the tf.data reader's batches: per pass, ``count // batch_size`` full batches, then (without
    ``drop_remainder``) the remainder as a smaller batch; with ``repeat``, pass after pass, so that no batch
    spans two epochs or holds one record twice."""
    full, rest = divmod(count, batch_size)
    kept = full + int(rest > 0 and not drop_remainder)
    if not repeat:
        ds = ds.take(kept)
    elif kept < per_epoch:
        ds = ds.apply(tf.data.experimental.enumerate_dataset())
        ds = ds.filter(lambda i, batch: i % per_epoch < kept).map(lambda i, batch: batch)
    if kept == full:
        return ds

    def cut(i, batch):  # after the cuts above every pass is ``kept`` batches, the remainder last
        n = tf.where(tf.equal(i % kept, kept - 1), tf.constant(rest, tf.int64), tf.constant(batch_size, tf.int64))
        return tuple(x[:n] for x in batch)
    return ds.apply(tf.data.experimental.enumerate_dataset()).map(cut)


def dali_dataset(record_dir, split, batch_size, augment, shuffle, repeat, num_shards=1, shard_index=0, seed=None,
                 drop_remainder=True, device="cpu"):
    """DALI ``tf.data.Dataset`` of ``(image, label, index)`` batches with the tf.data reader's epochs: without
    ``repeat`` exactly one, with ``repeat`` one after another, no batch spanning two (a fresh shuffle each)."""
    if device not in ("cpu", "gpu"):
        raise ValueError("unknown DALI device %r: expected cpu or gpu" % device)
    files = list_shards(record_dir, split)
    side = None if augment.crop == "none" else augment.size
    shape = [batch_size, 3, side, side] if augment.layout == "NCHW" else [batch_size, side, side, 3]
    pipe = build_pipeline(files, augment, batch_size, shuffle, num_shards, shard_index, seed, device)
    with tf.device("/gpu:%d" % shard_index if device == "gpu" else "/cpu:0"):
        ds = dali_tf.DALIDataset(pipeline=pipe, batch_size=batch_size,
                                 output_shapes=(shape, [batch_size], [batch_size]),
                                 output_dtypes=(tf.float32 if augment.normalize else tf.uint8, tf.int64, tf.int64),
                                 device_id=pipe.device_id)
        total = count_records(files)
        ds = _epoch_batches(ds, shard_size(total, num_shards, shard_index),
                            epoch_batches(total, num_shards, batch_size), batch_size, repeat, drop_remainder)
    # where common.data.input.DatasetInput makes the iterator (DALI on a GPU refuses a CPU-side one)
    ds.iterator_device = "/gpu:%d" % shard_index if device == "gpu" else None
    return ds
