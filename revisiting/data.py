"""Input for revisiting: the project's TFRecords -> the release's preprocessing string -> (image, label) batches.

Split names of the release map onto the record splits: ``train``/``trainval`` -> ``train``, ``val``/``test``
-> ``validation`` (the project's records hold the official train and validation sets only).
"""
from common.tf1 import tf
from common.data.records import FEATURES, list_shards, read_meta
from revisiting.preprocess import PARAMS, get_preprocess_fn

SPLITS = {"train": "train", "trainval": "train", "val": "validation", "test": "validation",
          "validation": "validation"}


def record_split(split):
    """The record split (``train`` / ``validation``) of a release split name; unknown names are errors."""
    if split not in SPLITS:
        raise ValueError("unknown split %r; valid splits: %s" % (split, ", ".join(SPLITS)))
    return SPLITS[split]


def split_size(record_dir, split):
    """Number of examples of ``split`` from ``meta.json``."""
    return int(read_meta(record_dir)["splits"][record_split(split)])


def preprocess_fn(cfg, is_training):
    """``get_preprocess_fn`` for the config's ``preprocessing`` string and parameters."""
    params = {k: cfg.get(k) for k in PARAMS}
    return get_preprocess_fn(cfg["preprocessing"], is_training, **params)


def make_input(record_dir, split, batch_size, preprocess, is_training, seed=None):
    """``tf.data.Dataset`` of ``(image, label)`` batches (fixed batch size): shuffled and repeated forever in
    training, one pass in order otherwise. ``preprocess`` maps ``{"image": uint8 HWC, "label"}`` dicts."""
    shards = list_shards(record_dir, record_split(split))
    files = tf.data.Dataset.from_tensor_slices(shards)
    if is_training:
        files = files.shuffle(len(shards), seed=seed)
    data = files.interleave(tf.data.TFRecordDataset, cycle_length=min(len(shards), 8))
    if is_training:
        data = data.shuffle(10000, seed=seed).repeat()

    def parse(record):
        example = tf.io.parse_single_example(record, FEATURES)
        image = tf.image.decode_jpeg(example["images"], channels=3)
        out = preprocess({"image": image, "label": example["labels"]})
        return tf.cast(out["image"], tf.float32), tf.cast(out["label"], tf.int64)
    data = data.map(parse, num_parallel_calls=4)
    return data.batch(batch_size, drop_remainder=True).prefetch(2)
