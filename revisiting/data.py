"""Input for revisiting: the release's splits of the project's TFRecords -> the preprocessing string -> batches.

The release's splits (its ``datasets.py``) over ImageNet's 1,024 training and 128 validation shards:
``train`` = the first 984 training shards (1,231,121 images), ``val`` = the last 40 (50,046 images),
``trainval`` = all training shards (1,281,167), ``test`` = the official validation set (50,000). The pretext
tasks train on ``train`` and validate on ``val``; only the linear evaluation's test reads the official validation
set. The release's slim-built shards hold ``floor(k * N / 1024)`` images before shard ``k``, so ``train`` is the
first ``floor(984 * N / 1024)`` training records in stored order and ``val`` the rest: the same counts whatever
the shard count of the project's records.
"""
from common import seeding
from common.tf1 import tf
from common.data.records import index_path, list_shards
from common.data.schema import decode_record
from common.data.tfdata_reader import CYCLE_LENGTH, SHUFFLE_BUFFER
from revisiting.preprocess import get_preprocess_fn

HELD_OUT = (984, 1024)  # the release: train = first 984 of 1,024 training shards, val = the last 40
# release split -> (record split, part): part "head" = train, "tail" = val, None = the whole record split
SPLITS = {"train": ("train", "head"), "val": ("train", "tail"), "trainval": ("train", None),
          "test": ("validation", None)}


def _check(split):
    if split not in SPLITS:
        raise ValueError("unknown split %r; valid splits: %s" % (split, ", ".join(SPLITS)))
    return SPLITS[split]


def shard_counts(record_dir, record_split):
    """``[(shard path, records)]`` of a record split, in stored order (counts from the DALI index files)."""
    out = []
    for shard in list_shards(record_dir, record_split):
        try:
            with open(index_path(shard)) as f:
                out.append((shard, sum(1 for line in f if line.strip())))
        except OSError:
            raise ValueError("%s: no index file %s (rebuild the records with dataset_miscs/build_tfrs.py)"
                             % (shard, index_path(shard)))
    return out


def record_range(total, part):
    """``(start, stop)`` of the records of ``part`` ("head", "tail" or None) among ``total`` records."""
    boundary = total * HELD_OUT[0] // HELD_OUT[1]
    return {"head": (0, boundary), "tail": (boundary, total), None: (0, total)}[part]


def split_files(record_dir, split):
    """``[(shard, skip, take)]`` covering the records of the release split ``split``."""
    record_split, part = _check(split)
    counts = shard_counts(record_dir, record_split)
    start, stop = record_range(sum(n for _, n in counts), part)
    pieces, offset = [], 0
    for shard, n in counts:
        lo, hi = max(start, offset), min(stop, offset + n)
        if hi > lo:
            pieces.append((shard, lo - offset, hi - lo))
        offset += n
    return pieces


def split_size(record_dir, split):
    """Number of examples of the release split ``split``."""
    return sum(take for _, _, take in split_files(record_dir, split))


def preprocess_fn(preprocessing, is_training):
    """``get_preprocess_fn`` of a ``revisiting.preprocess.Preprocessing`` value (op string and parameters)."""
    params = preprocessing._asdict()
    return get_preprocess_fn(params.pop("ops"), is_training, **params)


def make_input(record_dir, split, batch_size, preprocess, is_training, seed=None, with_index=False):
    """``tf.data.Dataset`` of ``(image float32, label int64[, index int64])`` batches (fixed batch size):
    shuffled (files, then a 10,000-record buffer) and repeated forever in training, one pass in stored order
    otherwise. ``preprocess`` maps ``{"image": uint8 HWC, "label", "index"}`` dicts. ``seed`` (default: the
    process's ``--seed``) fixes the order and, preprocessing the images one after the other, the random draws."""
    seed = seeding.current() if seed is None else seed
    parallel = tf.data.experimental.AUTOTUNE if seed is None else None
    pieces = split_files(record_dir, split)
    if not pieces:
        raise ValueError("split %r of %s is empty" % (split, record_dir))
    files, skips, takes = (list(x) for x in zip(*pieces))
    ds = tf.data.Dataset.from_tensor_slices((files, tf.constant(skips, tf.int64), tf.constant(takes, tf.int64)))
    if is_training:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(lambda f, skip, take: tf.data.TFRecordDataset(f).skip(skip).take(take),
                       cycle_length=min(CYCLE_LENGTH, len(files)) if is_training else 1,
                       num_parallel_calls=tf.data.experimental.AUTOTUNE if is_training else None)
    if is_training:
        ds = ds.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)

    def example(serialized):
        rec = decode_record(serialized)
        out = preprocess(dict(rec))
        fields = (tf.cast(out["image"], tf.float32), tf.cast(out["label"], tf.int64))
        return fields + (tf.cast(rec["index"], tf.int64),) if with_index else fields
    ds = ds.map(example, num_parallel_calls=parallel)
    ds = ds.batch(batch_size, drop_remainder=True)
    if is_training:
        ds = ds.repeat()
    return ds.prefetch(tf.data.experimental.AUTOTUNE)
