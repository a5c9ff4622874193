"""``make_dataset``: one entry point for both readers (tf.data, DALI) over the project's TFRecord shards."""
import functools
import logging

from common import seeding
from common.data.records import SPLITS

READERS = ("tfdata", "dali")


@functools.lru_cache(maxsize=None)
def dali_available():
    """Whether DALI's TensorFlow plugin imports; logs one warning (once per process) when it does not."""
    try:
        import nvidia.dali.plugin.tf  # noqa: F401
    except ImportError as err:
        logging.getLogger(__name__).warning("the DALI TensorFlow plugin cannot be imported (%s): reader 'dali' falls "
                                            "back to the tf.data reader", err)
        return False
    return True


def make_dataset(record_dir, split, batch_size, augment, reader="tfdata", shuffle=None, repeat=None, num_shards=1,
                 shard_index=0, seed=None, drop_remainder=True, device="cpu", preprocess=None):
    """``tf.data.Dataset`` of ``(image, label, index)`` batches (label, index int64) from ``record_dir``.

    shuffle / repeat default to ``split == "train"``; worker ``shard_index`` of ``num_shards`` reads a disjoint
    part; ``seed`` (default: the process's ``--seed``, ``common.seeding``) fixes the order and the augmentation of
    both readers; ``device`` ("cpu" or "gpu") only matters for DALI (GPU: mixed JPEG decode and GPU augmentation).
    ``reader="dali"`` uses the tf.data reader when DALI's TensorFlow plugin is not installed (one warning); the
    dataset's ``reader`` attribute names the reader that runs (logged by ``common.train`` for training input).
    ``preprocess`` (tf.data reader only, with ``augment=None``): a per-example function from the decoded dict
    ``{"image": uint8 HxWx3, "label", "index"}`` to a dict; the dataset then yields batches of those dicts.
    """
    if reader not in READERS:
        raise ValueError("unknown reader %r: expected one of %s" % (reader, ", ".join(READERS)))
    if split not in SPLITS:
        raise ValueError("unknown split %r: expected one of %s" % (split, ", ".join(SPLITS)))
    if not 0 <= shard_index < num_shards:
        raise ValueError("shard_index %d out of range for num_shards %d" % (shard_index, num_shards))
    if preprocess is not None and reader != "tfdata":
        raise ValueError("make_dataset: a per-example preprocess function needs reader='tfdata', got %r" % reader)
    if preprocess is not None and augment is not None:
        raise ValueError("make_dataset: give either augment or preprocess, not both")
    seed = seeding.current() if seed is None else seed  # --seed: both readers' order and augmentation
    shuffle = split == "train" if shuffle is None else shuffle
    repeat = split == "train" if repeat is None else repeat
    args = (record_dir, split, batch_size, augment, shuffle, repeat, num_shards, shard_index, seed, drop_remainder)
    if reader == "tfdata" or not dali_available():
        from common.data.tfdata_reader import tfdata_dataset
        ds = tfdata_dataset(*args, preprocess=preprocess)
        ds.reader = "tfdata"
        return ds
    from common.data.dali_reader import dali_dataset
    ds = dali_dataset(*args, device=device)
    ds.reader = "dali"
    return ds
