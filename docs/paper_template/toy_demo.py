"""The toy run of a paper made from the template: a raw-pixel weighted kNN on the toy records (replace it with
the paper's training and evaluation). ``run(record_dir, work_dir)`` returns the rows of the demo's table."""
import os
import time

import numpy as np

from common.data.augment import AugmentConfig
from common.data.input import make_dataset
from common.data.records import read_meta
from common.eval.knn import knn_accuracy
from common.tf1 import tf

__all__ = ["run"]

PAPER = __name__.split(".")[0]
SIZE, K = 16, 20


def _pixels(record_dir, split):
    """L2-normalised ``SIZE`` x ``SIZE`` pixels and the labels of every image of ``split``, in record order."""
    with tf.Graph().as_default():
        data = make_dataset(record_dir, split, 64, AugmentConfig(size=SIZE, crop="resize"), shuffle=False,
                            repeat=False, drop_remainder=False)
        images, labels, _ = tf.data.make_one_shot_iterator(data).get_next()
        rows, ys = [], []
        with tf.Session() as sess:
            while True:
                try:
                    x, y = sess.run([images, labels])
                except tf.errors.OutOfRangeError:
                    break
                rows.append(x.reshape(len(x), -1))
                ys.append(y)
    x = np.concatenate(rows)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.concatenate(ys)


def run(record_dir, work_dir):
    """kNN top-1 of the validation images against the training images; one row."""
    os.makedirs(work_dir, exist_ok=True)
    start = time.time()
    bank, bank_labels = _pixels(record_dir, "train")
    queries, query_labels = _pixels(record_dir, "validation")
    acc = knn_accuracy(bank, bank_labels, queries, query_labels, read_meta(record_dir)["num_classes"], k=K, t=0.07)
    return [{"method": "%s (raw pixels, template)" % PAPER, "knn_top1": float(acc["top1"]),
             "train_seconds": round(time.time() - start, 1), "notes": "%d px, k=%d" % (SIZE, K)}]
