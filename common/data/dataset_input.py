"""TensorPack's input for the project's ``tf.data`` datasets (DALI's too): what ``common.train.launch_train``
feeds its towers from."""
import contextlib

from tensorpack import TFDatasetInput, logger
from tensorpack.input_source import InputSource

from common.tf1 import tf

__all__ = ["DatasetInput", "as_input"]


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
