"""Feature extraction: an inference tower over a finite dataset (``FeatureTower``) and the loop that runs a
feature tensor over it in a session, collecting numpy arrays (``extract_features``).

Used to recompute a memory bank with the test transform (instance discrimination, sec. 9.3) and to
embed a validation split for kNN or linear evaluation.
"""
import numpy as np
from tensorpack.tfutils.tower import PredictTowerContext

from common.tf1 import tf

__all__ = ["extract_features", "FeatureTower"]


def extract_features(sess, features, labels=None, indices=None, init_op=None, max_batches=None, feed_dict=None,
                     expect_size=None):
    """Run ``features`` (and ``labels``, ``indices``) batch by batch; return ``(features, labels, indices)``.

    Runs ``init_op`` first (e.g. an initializable iterator's initializer), then until the input raises
    ``OutOfRangeError`` or ``max_batches`` batches were read. Rows come back in dataset order: sorted by
    ``indices`` when given (which must then be unique), else in reading order with ``indices`` =
    ``0..n-1``. ``expect_size=N`` additionally requires the indices to be exactly ``0..N-1``, so that row
    ``i`` belongs to example ``i`` (what a bank recompute needs). ``labels`` is None when not given.
    """
    if init_op is not None:
        sess.run(init_op, feed_dict)
    fetches = {"features": features}
    if labels is not None:
        fetches["labels"] = labels
    if indices is not None:
        fetches["indices"] = indices
    parts = {name: [] for name in fetches}
    batches = 0
    while max_batches is None or batches < max_batches:
        try:
            out = sess.run(fetches, feed_dict)
        except tf.errors.OutOfRangeError:
            break
        for name, value in out.items():
            parts[name].append(np.asarray(value))
        batches += 1
    if not batches:
        raise ValueError("extract_features: the dataset produced no batch")
    result = {name: np.concatenate(values) for name, values in parts.items()}
    if indices is None:
        result["indices"] = np.arange(len(result["features"]))
    else:
        idx = result["indices"].astype(np.int64).ravel()
        order = np.argsort(idx, kind="stable")
        repeated = idx[order][1:][np.diff(idx[order]) == 0]
        if len(repeated):
            raise ValueError("extract_features: index %d was read twice (a repeating dataset? set max_batches)"
                             % repeated[0])
        result = {name: value[order] for name, value in result.items()}
    if expect_size is not None and not np.array_equal(result["indices"], np.arange(expect_size)):
        raise ValueError("extract_features: expected indices 0..%d, got %d rows with indices in [%d, %d]" % (
            expect_size - 1, len(result["indices"]), result["indices"].min(), result["indices"].max()))
    return result["features"], result.get("labels"), result["indices"]


class FeatureTower(object):
    """Inference-mode features of a finite dataset of ``(image, label[, index])`` batches, built in the current
    graph and run batch by batch.

    ``make_dataset()`` builds the dataset; ``features_fn(image, label, index)`` returns the feature tensor
    (``index`` None when the batches have none) and runs in a ``PredictTowerContext(name)`` (BN on moving
    statistics). Variables are reused by name, so the tower reads the training tower's weights (or a
    restored checkpoint's); the first tower of a graph without trainable variables creates them.
    """

    def __init__(self, make_dataset, features_fn, name):
        self.iterator = tf.data.make_initializable_iterator(make_dataset())
        batch = tuple(self.iterator.get_next())
        image, self.label = batch[:2]
        self.index = batch[2] if len(batch) > 2 else None
        reuse = True if tf.trainable_variables() else None
        with tf.variable_scope(tf.get_variable_scope(), reuse=reuse), PredictTowerContext(name):
            self.features = features_fn(image, self.label, self.index)

    def run(self, sess, expect_size=None):
        """``(features, labels, indices)`` of the whole dataset (sorted by index when the batches carry one)."""
        return extract_features(sess, self.features, self.label, self.index, init_op=self.iterator.initializer,
                                expect_size=expect_size)
