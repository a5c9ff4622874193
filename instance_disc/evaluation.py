"""kNN evaluation of the learned features: the 1-NN monitor after each epoch, weighted kNN (K=200, sigma=T).

Train-side features are the memory bank (the release's default) or, with ``recompute``, features of the
training images under the test transform; the bank itself is never overwritten by an evaluation.
"""
import json
import os
import sys

from tensorpack import Callback, logger
from tensorpack.tfutils.tower import PredictTowerContext

from common.eval.features import extract_features
from common.eval.knn import knn_accuracy
from common.memory_bank import LabelBank, MemoryBank
from common.tf1 import tf
from instance_disc.model import BANK_SCOPE

__all__ = ["FeatureTower", "bank_arrays", "knn_evaluate", "KnnMonitor", "evaluate_checkpoint",
           "restored_features"]


class FeatureTower(object):
    """Inference-mode features of a finite dataset (``make_dataset()``, built in the current graph) of
    ``(image, label, index)`` batches, run batch by batch.

    ``build_graph`` is the model's (or the trainer's tower function); variables are reused by name, so the
    tower reads the training tower's weights (or a restored checkpoint's).
    """

    def __init__(self, build_graph, make_dataset, name):
        self.iterator = tf.data.make_initializable_iterator(make_dataset())
        image, self.label, self.index = self.iterator.get_next()
        reuse = True if tf.trainable_variables() else None  # the first tower of an offline graph creates them
        with tf.variable_scope(tf.get_variable_scope(), reuse=reuse), PredictTowerContext(name):
            build_graph(image, self.label, self.index)
        self.features = tf.get_default_graph().get_tensor_by_name(name + "/features:0")

    def run(self, sess, expect_size=None):
        """``(features, labels, indices)`` of the whole dataset, sorted by index."""
        return extract_features(sess, self.features, self.label, self.index, init_op=self.iterator.initializer,
                                expect_size=expect_size)


def bank_arrays(sess, n_data, dim):
    """``(memory bank, label bank)`` values of the shared instance-discrimination banks."""
    bank = MemoryBank(BANK_SCOPE, n_data, dim)
    labels = LabelBank(BANK_SCOPE, n_data)
    return sess.run([bank.var, labels.var])


def knn_evaluate(sess, val_tower, train_side, num_classes, k, t):
    """Top-1/top-5 of weighted kNN of the validation features against ``train_side = (features, labels)``."""
    feats, labels, _ = val_tower.run(sess)
    return knn_accuracy(train_side[0], train_side[1], feats, labels, num_classes=num_classes, k=k, t=t)


def _final_results(sess, val_tower, train_tower, cfg, n_data, num_classes, recompute):
    bank = bank_arrays(sess, n_data, cfg["low_dim"])
    results = {"knn%d_bank" % cfg["knn_k"]: knn_evaluate(sess, val_tower, bank, num_classes, cfg["knn_k"],
                                                         cfg["nce_t"])}
    if recompute:
        feats, labels, _ = train_tower.run(sess, expect_size=n_data)
        results["knn%d_recomputed" % cfg["knn_k"]] = knn_evaluate(sess, val_tower, (feats, labels), num_classes,
                                                                  cfg["knn_k"], cfg["nce_t"])
    return results


class KnnMonitor(Callback):
    """After each epoch: kNN top-1 of the validation set against the bank (``epoch_k`` = 1: the release's
    1-NN monitor; cifar.py uses 200). After training: weighted kNN with ``cfg['knn_k']`` against the bank and,
    with ``recompute``, against recomputed train features; results go to ``<logdir>/knn.json``."""

    def __init__(self, cfg, n_data, num_classes, val_dataset, train_eval_dataset=None, epoch_k=1, recompute=False):
        self.cfg, self.n_data, self.num_classes = cfg, n_data, num_classes
        self._datasets = (val_dataset, train_eval_dataset)
        self.epoch_k, self.recompute = epoch_k, recompute
        self.results = {}

    def _setup_graph(self):
        build = self.trainer.tower_func
        self.val = FeatureTower(build, self._datasets[0], "knn_val")
        self.train = FeatureTower(build, self._datasets[1], "knn_train") if self.recompute else None

    def _trigger_epoch(self):
        bank = bank_arrays(self.trainer.sess, self.n_data, self.cfg["low_dim"])
        acc = knn_evaluate(self.trainer.sess, self.val, bank, self.num_classes, self.epoch_k, self.cfg["nce_t"])
        self.trainer.monitors.put_scalar("knn%d_top1" % self.epoch_k, acc["top1"])
        self.results["epoch%d_knn%d_top1" % (self.epoch_num, self.epoch_k)] = acc["top1"]

    def _after_train(self):
        if sys.exc_info()[0] is not None:  # training failed: nothing to evaluate, nothing to write
            return
        self.results.update(_final_results(self.trainer.sess, self.val, self.train, self.cfg, self.n_data,
                                           self.num_classes, self.recompute))
        logger.info("kNN results: %s" % json.dumps(self.results, sort_keys=True))
        with open(os.path.join(logger.get_logger_dir(), "knn.json"), "w") as f:
            json.dump(self.results, f, indent=1, sort_keys=True)


def evaluate_checkpoint(model, checkpoint, cfg, n_data, num_classes, val_dataset, train_eval_dataset=None):
    """Restore ``checkpoint`` (None: random initialisation) and return the final kNN results dict.

    Datasets are zero-argument callables (built inside the evaluation graph); ``train_eval_dataset`` given:
    also kNN against recomputed train features.
    """
    with tf.Graph().as_default():
        val = FeatureTower(model.build_graph, val_dataset, "eval_val")
        train = None if train_eval_dataset is None else FeatureTower(model.build_graph, train_eval_dataset,
                                                                      "eval_train")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            if checkpoint:
                tf.train.Saver(tf.global_variables()).restore(sess, checkpoint)
            return _final_results(sess, val, train, cfg, n_data, num_classes, train is not None)


def restored_features(model, checkpoint, dataset):
    """``(features, labels, indices)`` of ``dataset()`` under ``checkpoint``'s weights, sorted by index."""
    with tf.Graph().as_default():
        tower = FeatureTower(model.build_graph, dataset, "eval_val")
        with tf.Session() as sess:
            tf.train.Saver(tf.global_variables()).restore(sess, checkpoint)
            return tower.run(sess)
