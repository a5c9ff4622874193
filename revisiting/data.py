"""Input for revisiting: the project's TFRecords -> the release's preprocessing string -> (image, label) batches.

Split names of the release map onto the record splits: ``train``/``trainval`` -> ``train``, ``val``/``test``
-> ``validation`` (the project's records hold the official train and validation sets only).
"""
from common.tf1 import tf
from common.data.input import make_dataset
from common.data.records import read_meta
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
    """``tf.data.Dataset`` of ``(image, label)`` batches (fixed batch size) from ``common.data.input.make_dataset``:
    shuffled and repeated forever in training, one pass in order otherwise. ``preprocess`` maps
    ``{"image": uint8 HWC, "label", "index"}`` dicts."""
    data = make_dataset(record_dir, record_split(split), batch_size, None, shuffle=is_training, repeat=is_training,
                        seed=seed, preprocess=preprocess)
    return data.map(lambda ex: (tf.cast(ex["image"], tf.float32), tf.cast(ex["label"], tf.int64)))
