"""kNN evaluation of the learned features: the 1-NN monitor after each epoch, weighted kNN (K=200, sigma=T).

Train-side features are the memory bank (the release's default) or, with ``recompute``, features of the
training images under the test transform; the bank itself is never overwritten by an evaluation.
"""
import json
import os
import sys

from tensorpack import logger

from common import seeding
from common.eval.features import FeatureTower
from common.eval.knn import knn_accuracy
from common.eval.knn_monitor import KnnMonitor
from common.memory_bank import LabelBank, MemoryBank
from common.tf1 import tf
from instance_disc.model import BANK_SCOPE

__all__ = ["bank_tensors", "knn_evaluate", "InstanceDiscKnn", "evaluate_checkpoint",
           "restored_features"]


def bank_tensors(n_data, dim):
    """``(memory bank, label bank)`` variables of the shared instance-discrimination banks."""
    return MemoryBank(BANK_SCOPE, n_data, dim).var, LabelBank(BANK_SCOPE, n_data).var


def knn_evaluate(sess, val_tower, train_side, num_classes, k, t):
    """Top-1/top-5 of weighted kNN of the validation features against ``train_side = (features, labels)``."""
    feats, labels, _ = val_tower.run(sess)
    return knn_accuracy(train_side[0], train_side[1], feats, labels, num_classes=num_classes, k=k, t=t)


def _final_results(sess, bank, val_tower, train_tower, cfg, n_data, num_classes):
    bank = sess.run(bank)
    results = {"knn%d_bank" % cfg["knn_k"]: knn_evaluate(sess, val_tower, bank, num_classes, cfg["knn_k"],
                                                         cfg["nce_t"])}
    if train_tower is not None:
        feats, labels, _ = train_tower.run(sess, expect_size=n_data)
        results["knn%d_recomputed" % cfg["knn_k"]] = knn_evaluate(sess, val_tower, (feats, labels), num_classes,
                                                                  cfg["knn_k"], cfg["nce_t"])
    return results


class InstanceDiscKnn(KnnMonitor):
    """The common ``KnnMonitor`` after each epoch with ``epoch_k`` (1: the release's 1-NN monitor; cifar.py
    uses 200) against the bank; after training, weighted kNN with ``cfg['knn_k']`` against the bank and, with
    ``recompute``, against recomputed train features. All results go to ``<logdir>/knn.json``."""

    def __init__(self, cfg, n_data, num_classes, val_dataset, train_eval_dataset=None, epoch_k=1, recompute=False):
        super(InstanceDiscKnn, self).__init__(
            lambda *batch: self.trainer.tower_func(*batch), val_dataset,
            lambda: bank_tensors(n_data, cfg["low_dim"]), num_classes, [epoch_k], cfg["nce_t"], every_k_epochs=1)
        self.cfg, self.n_data = cfg, n_data
        self._train_eval_dataset, self.recompute = train_eval_dataset, recompute
        self.results = {}

    def _setup_graph(self):
        super(InstanceDiscKnn, self)._setup_graph()
        self.train = (FeatureTower(self._train_eval_dataset, self._features_fn, "knn_train")
                      if self.recompute else None)

    def _after_train(self):
        if sys.exc_info()[0] is not None:  # training failed: nothing to evaluate, nothing to write
            return
        for _, epoch, values in self.history:
            self.results.update(("epoch%d_%s" % (epoch, name), value) for name, value in values.items())
        self.results.update(_final_results(self.trainer.sess, self._bank, self.val, self.train, self.cfg,
                                           self.n_data, self.num_classes))
        logger.info("kNN results: %s" % json.dumps(self.results, sort_keys=True))
        with open(os.path.join(logger.get_logger_dir(), "knn.json"), "w") as f:
            json.dump(self.results, f, indent=1, sort_keys=True)


def evaluate_checkpoint(model, checkpoint, cfg, n_data, num_classes, val_dataset, train_eval_dataset=None):
    """Restore ``checkpoint`` (None: random initialisation) and return the final kNN results dict.

    Datasets are zero-argument callables (built inside the evaluation graph); ``train_eval_dataset`` given:
    also kNN against recomputed train features.
    """
    with tf.Graph().as_default():
        seeding.seed_graph()  # --seed: the random initialisation too
        features_fn = model.build_graph
        val = FeatureTower(val_dataset, features_fn, "eval_val")
        train = None if train_eval_dataset is None else FeatureTower(train_eval_dataset, features_fn, "eval_train")
        bank = bank_tensors(n_data, cfg["low_dim"])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            if checkpoint:
                tf.train.Saver(tf.global_variables()).restore(sess, checkpoint)
            return _final_results(sess, bank, val, train, cfg, n_data, num_classes)


def restored_features(model, checkpoint, dataset):
    """``(features, labels, indices)`` of ``dataset()`` under ``checkpoint``'s weights, sorted by index."""
    with tf.Graph().as_default():
        tower = FeatureTower(dataset, model.build_graph, "eval_val")
        with tf.Session() as sess:
            tf.train.Saver(tf.global_variables()).restore(sess, checkpoint)
            return tower.run(sess)
