"""k-means over the memory bank with faiss (the release's ``cluster_km.py``) and its hand-off to the graph's cluster labels.

Each entry ``k_r`` of ``kmeans_k`` is one faiss run (20 iterations, seed 1234 + r, no subsampling), on
the GPU when faiss has one, on the CPU otherwise; the labels of every run are stacked to ``[R, N]``.
"""
import time

import numpy as np
from tensorpack.callbacks import Callback
from tensorpack.utils import logger

from common import seeding
from common.kmeans import faiss_kmeans
from common.memory_bank import assign_all_copies, bank_copies, bank_variable
from common.tf1 import tf
from local_aggregation.flags import parse_int_list

__all__ = ["KMEANS_NITER", "KMEANS_SEED", "parse_kmeans_k", "run_kmeans", "cluster_labels_variable",
           "Recluster"]

KMEANS_NITER = 20
KMEANS_SEED = 1234
MAX_POINTS_PER_CENTROID = 10000000


def parse_kmeans_k(text, data_len):
    """``"30000,30000"`` -> ``[30000, 30000]``; each k must be in ``[1, data_len]`` (errors name ``kmeans_k``)."""
    ks = parse_int_list(text, "kmeans_k")
    if not ks:
        raise ValueError("kmeans_k is empty: give at least one k")
    for k in ks:
        if not 1 <= k <= data_len:
            raise ValueError("kmeans_k %d is outside [1, data_len=%d]: there cannot be more clusters than images"
                             % (k, data_len))
    return ks


def run_kmeans(bank, ks, niter=KMEANS_NITER, seed=None):
    """Cluster the rows of ``bank`` ``[N, D]`` once per k in ``ks``; returns int64 labels ``[len(ks), N]``.
    Run r is seeded ``seed + r``; ``seed`` defaults to ``--seed`` (``common.seeding``), else the release's 1234."""
    if seed is None:
        seed = KMEANS_SEED if seeding.current() is None else seeding.current()
    data = np.ascontiguousarray(bank, dtype=np.float32)
    return np.stack([faiss_kmeans(data, k, niter, seed + run, MAX_POINTS_PER_CENTROID) for run, k in enumerate(ks)])


def cluster_labels_variable(num_runs, data_len):
    """``instance/cluster_labels`` int64 ``[R, N]`` (or this tower's copy, as the memory bank), row r initialised
    to ``0..N-1`` (own cluster each)."""
    def initial(shape, dtype=tf.int64, partition_info=None):
        return tf.tile(tf.range(shape[1], dtype=dtype)[None], [shape[0], 1])

    return bank_variable("instance", "cluster_labels", [num_runs, data_len], tf.int64, initial)


class Recluster(Callback):
    """Re-run k-means on the bank at (re)start and whenever ``global_step % period == 0`` (README decision 10).

    ``model`` has ``bank`` (a MemoryBank) and ``cluster_labels`` once its graph is built; no clustering
    after ``final_step``, where training ends. The time of each clustering is logged.
    """

    def __init__(self, model, ks, period, final_step=None):
        self._model, self._ks, self._period, self._final_step = model, ks, period, final_step

    def _setup_graph(self):
        self._bank, self._labels = self._model.bank.shared, bank_copies(self._model.cluster_labels)[0]
        self._new_labels = tf.placeholder(tf.int64, self._labels.shape, name="new_cluster_labels")
        self._assign = assign_all_copies(self._labels, self._new_labels)

    def _before_train(self):
        self._recluster()

    def _trigger_step(self):
        if self.global_step % self._period == 0 and self.global_step != self._final_step:
            self._recluster()

    def _recluster(self):
        start = time.time()
        labels = run_kmeans(self.trainer.sess.run(self._bank), self._ks)
        self.trainer.sess.run(self._assign, feed_dict={self._new_labels: labels})
        seconds = time.time() - start
        logger.info("k-means %s on %d bank rows: %.2f s" % (self._ks, labels.shape[1], seconds))
        self.trainer.monitors.put_scalar("kmeans_seconds", seconds)
