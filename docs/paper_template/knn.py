"""Weighted kNN top-1 of raw pixels, validation split against the training split: the template's release script
(replace it with the paper's training script; keep its first and last lines).

    python newpaper/knn.py --data data/toy/records [--size 16 --k 20]
"""
import numpy as np

from common import cli
from common.data.augment import AugmentConfig
from common.data.input import make_dataset
from common.data.records import read_meta
from common.eval.knn import knn_accuracy
from common.tf1 import tf
from newpaper.flags import parse_flags

__all__ = ["pixels", "knn_top1", "main"]


def pixels(record_dir, split, size):
    """L2-normalised ``size`` x ``size`` pixels and the labels of every image of ``split``, in record order."""
    with tf.Graph().as_default():
        data = make_dataset(record_dir, split, 64, AugmentConfig(size=size, crop="resize"), shuffle=False,
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


def knn_top1(record_dir, size, k):
    """Top-1 of the weighted kNN (temperature 0.07) of the validation images against the training images."""
    bank, bank_labels = pixels(record_dir, "train", size)
    queries, query_labels = pixels(record_dir, "validation", size)
    return float(knn_accuracy(bank, bank_labels, queries, query_labels, read_meta(record_dir)["num_classes"],
                              k=k, t=0.07)["top1"])


def main(argv=None):
    """Print the kNN top-1 of ``--data``."""
    args, cfg = parse_flags("knn", argv)
    print("knn top-1 %.4f (%d px, k=%d)" % (knn_top1(cfg["data"], cfg["size"], cfg["k"]), cfg["size"], cfg["k"]))


if __name__ == "__main__":
    cli.run(main)
