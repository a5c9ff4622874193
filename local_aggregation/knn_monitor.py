"""kNN monitor during pretraining (the release's validation): the release's 1-NN over the bank, plus weighted kNN.

The bank's labels are the ones captured from training batches (``instance/all_labels``; rows never visited
keep label 0, README decision 15). The validation split is embedded once, completely (README decision 20).
"""
import json
import os
import time

from tensorpack.callbacks import Callback
from tensorpack.tfutils.tower import PredictTowerContext
from tensorpack.utils import logger

from common.eval.features import extract_features
from common.eval.knn import knn_accuracy
from common.tf1 import tf

__all__ = ["knn_top1", "KnnMonitor"]


def knn_top1(bank, bank_labels, queries, query_labels, num_classes, knn_k=200, t=0.07):
    """``{"nn1_top1": 1-NN accuracy (release), "knn_top1": weighted kNN accuracy (K=knn_k, t)}``."""
    nn1 = knn_accuracy(bank, bank_labels, queries, query_labels, num_classes, k=1, t=t)["top1"]
    knn = knn_accuracy(bank, bank_labels, queries, query_labels, num_classes, k=knn_k, t=t)["top1"]
    return {"nn1_top1": nn1, "knn_top1": knn}


class KnnMonitor(Callback):
    """Every ``period`` global steps and at ``final_step``: embed ``val_dataset()`` and report kNN top-1.

    ``model`` has ``embed(images, is_training)`` and, once built, ``bank`` / ``label_bank``. Each result
    goes to the trainer's monitors and as one JSON line to ``<logdir>/val_log.txt``; the last stays in
    ``self.last``.
    """

    def __init__(self, model, val_dataset, num_classes, period, final_step=None, knn_k=200, t=0.07):
        self._model, self._val_dataset, self._num_classes = model, val_dataset, num_classes
        self._period, self._final_step, self._knn_k, self._t = period, final_step, knn_k, t
        self.last = None

    def _setup_graph(self):
        self._iterator = tf.data.make_initializable_iterator(self._val_dataset())
        image, label = tuple(self._iterator.get_next())[:2]
        with tf.variable_scope(tf.get_variable_scope(), reuse=True), PredictTowerContext("knn_val"):
            self._embedding = self._model.embed(image, False)["embedding"]
        self._label = label

    def _trigger_step(self):
        if self.global_step % self._period == 0 or self.global_step == self._final_step:
            self._evaluate()

    def _evaluate(self):
        start = time.time()
        sess = self.trainer.sess
        feats, labels, _ = extract_features(sess, self._embedding, self._label, init_op=self._iterator.initializer)
        bank, bank_labels = sess.run([self._model.bank.var, self._model.label_bank.var])
        self.last = knn_top1(bank, bank_labels, feats, labels, self._num_classes, self._knn_k, self._t)
        logger.info("kNN at step %d: 1-NN top-1 %.4f, %d-NN top-1 %.4f (%d images, %.1f s)"
                    % (self.global_step, self.last["nn1_top1"], self._knn_k, self.last["knn_top1"], len(feats),
                       time.time() - start))
        for name, value in self.last.items():
            self.trainer.monitors.put_scalar("knn/" + name, value)
        with open(os.path.join(logger.get_logger_dir(), "val_log.txt"), "a") as f:
            f.write(json.dumps(dict(self.last, step=self.global_step)) + "\n")
