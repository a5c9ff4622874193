"""The training input: ``make_dataset``, one entry point for both readers (tf.data, DALI) over the project's
TFRecord shards, and ``DatasetInput`` / ``as_input``, TensorPack's input over such a dataset (what
``common.train.launch_train`` feeds its towers from)."""
import contextlib
import functools
import logging

from tensorpack import TFDatasetInput, logger
from tensorpack.input_source import InputSource

from common import seeding
from common.data.records import SPLITS
from common.tf1 import tf

__all__ = ["READERS", "dali_available", "make_dataset", "DatasetInput", "as_input"]

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


class DatasetInput(TFDatasetInput):
    """TensorPack's ``TFDatasetInput`` for any ``tf.data`` dataset, TF2-style ones (DALI's ``DALIDataset``) too.

    Types and shapes come from ``tf.data.get_output_types/shapes``; the initializable iterator is made on the
    dataset's ``iterator_device`` when it names one (DALI on a GPU refuses a CPU-side iterator).
    """

    def __init__(self, dataset):
        self._dataset, self._dataflow = dataset, None

    def _setup(self, input_signature):
        self._spec = input_signature
        types = tf.data.get_output_types(self._dataset)
        types = types if isinstance(types, tuple) else (types,)
        shapes = tf.data.get_output_shapes(self._dataset)
        shapes = shapes if isinstance(shapes, tuple) else (shapes,)
        want = [(k.name, k.dtype, tf.TensorShape(k.shape)) for k in input_signature]
        if len(types) != len(want):
            raise ValueError("the dataset yields %d tensors, the model's inputs are %d (%s)"
                             % (len(types), len(want), ", ".join(w[0] for w in want)))
        for (name, dtype, shape), t, s in zip(want, types, shapes):
            if t != dtype or not shape.is_compatible_with(s):
                raise ValueError("model input %r is %s %s but the dataset yields %s %s"
                                 % (name, dtype.name, shape, t.name, s))
        if getattr(self._dataset, "reader", None):
            logger.info("Training input: the %s reader" % self._dataset.reader)
        device = getattr(self._dataset, "iterator_device", None)
        with tf.device(device) if device else contextlib.nullcontext():
            self._iterator = tf.data.make_initializable_iterator(self._dataset)
        self._init_op = self._iterator.initializer


def as_input(dataset):
    """``dataset`` as TensorPack's input: an InputSource as is, a dataset (or a zero-argument callable making
    one) as a ``DatasetInput``."""
    if isinstance(dataset, InputSource):
        return dataset
    if callable(dataset) and not isinstance(dataset, tf.data.Dataset):
        dataset = dataset()
    return DatasetInput(dataset)
