"""kNN monitor during pretraining: embed a validation split in an inference tower and classify it by weighted
kNN against the memory bank, for a list of k's, every few steps or epochs.
"""
import collections
import json
import os
import time

from tensorpack.callbacks import Callback
from tensorpack.utils import logger

from common.eval.features import FeatureTower
from common.eval.knn import knn_accuracy

__all__ = ["KnnMonitor"]


class KnnMonitor(Callback):
    """Every ``every_k_steps`` global steps (and at ``final_step``) or every ``every_k_epochs`` epochs: kNN
    top-1 of ``val_dataset()`` against the bank, one value per k of ``ks`` (k = 1: nearest neighbour; weights
    ``exp(sim / t)``).

    ``features_fn(image, label, index)`` builds the features in the inference tower ``tower_name`` (see
    ``FeatureTower``); ``bank_fn()`` returns the ``(bank, bank labels)`` tensors, built once with the graph.
    ``names[i]`` names the value of ``ks[i]`` (default ``knn<k>_top1``); each goes to the trainer's monitors as
    ``scalar_prefix + name``, and with ``log_name`` as one JSON line (with ``step``) to ``<logdir>/<log_name>``.
    The last values stay in ``self.last`` (name -> top-1), every evaluation in ``self.history`` as
    ``(global step, epoch, values)``.
    """

    def __init__(self, features_fn, val_dataset, bank_fn, num_classes, ks, t, names=None, every_k_steps=None,
                 every_k_epochs=None, final_step=None, scalar_prefix="", log_name=None, tower_name="knn_val"):
        self.ks = [int(k) for k in ks]
        self.names = list(names) if names is not None else ["knn%d_top1" % k for k in self.ks]
        if not self.ks or len(self.names) != len(self.ks):
            raise ValueError("KnnMonitor: need one name per k, got ks %r and names %r" % (ks, names))
        if not (every_k_steps or every_k_epochs):
            raise ValueError("KnnMonitor: give a period (every_k_steps or every_k_epochs)")
        self._features_fn, self._val_dataset, self._bank_fn = features_fn, val_dataset, bank_fn
        self.num_classes, self.t = num_classes, t
        self._every_k_steps, self._every_k_epochs, self._final_step = every_k_steps, every_k_epochs, final_step
        self._scalar_prefix, self._log_name, self._tower_name = scalar_prefix, log_name, tower_name
        self.last, self.history = None, []

    def _setup_graph(self):
        self.val = FeatureTower(self._val_dataset, self._features_fn, self._tower_name)
        self._bank = self._bank_fn()

    def _trigger_step(self):
        if self._every_k_steps and (self.global_step % self._every_k_steps == 0
                                    or self.global_step == self._final_step):
            self.evaluate()

    def _trigger_epoch(self):
        if self._every_k_epochs and self.epoch_num % self._every_k_epochs == 0:
            self.evaluate()

    def evaluate(self):
        """Embed the validation split, classify it against the bank; returns ``self.last``."""
        start = time.time()
        sess = self.trainer.sess
        feats, labels, _ = self.val.run(sess)
        bank, bank_labels = sess.run(self._bank)
        self.last = collections.OrderedDict(
            (name, knn_accuracy(bank, bank_labels, feats, labels, self.num_classes, k=k, t=self.t)["top1"])
            for k, name in zip(self.ks, self.names))
        self.history.append((self.global_step, self.epoch_num, self.last))
        logger.info("kNN at step %d: %s (%d images, %.1f s)" % (self.global_step, ", ".join(
            "%s %.4f" % kv for kv in self.last.items()), len(feats), time.time() - start))
        for name, value in self.last.items():
            self.trainer.monitors.put_scalar(self._scalar_prefix + name, value)
        if self._log_name:
            with open(os.path.join(logger.get_logger_dir(), self._log_name), "a") as f:
                f.write(json.dumps(dict(self.last, step=self.global_step)) + "\n")
        return self.last
