"""CIFAR-10 python-pickle batches (``data_batch_1..5``, ``test_batch``) read into uint8 arrays; no download."""
import os
import pickle

import numpy as np

__all__ = ["CIFAR10_CLASSES", "TRAIN_BATCHES", "TEST_BATCH", "find_batch_dir", "load_cifar10"]

CIFAR10_CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TRAIN_BATCHES = tuple("data_batch_%d" % i for i in range(1, 6))
TEST_BATCH = "test_batch"


def find_batch_dir(data_dir):
    """The folder holding the batch files: ``data_dir`` itself or its ``cifar-10-batches-py``; else ValueError."""
    if not os.path.isdir(data_dir):
        raise ValueError("CIFAR-10 directory not found: %s (nothing is downloaded; unpack "
                         "cifar-10-python.tar.gz there)" % data_dir)
    missing_by_dir = {}
    for candidate in (data_dir, os.path.join(data_dir, "cifar-10-batches-py")):
        missing_by_dir[candidate] = [name for name in TRAIN_BATCHES + (TEST_BATCH,)
                                     if not os.path.isfile(os.path.join(candidate, name))]
        if not missing_by_dir[candidate]:
            return candidate
    missing = min(missing_by_dir.values(), key=len)
    raise ValueError("CIFAR-10 directory %s lacks the batch files %s (expected %s and %s, or a "
                     "cifar-10-batches-py folder holding them)"
                     % (data_dir, ", ".join(missing), ", ".join(TRAIN_BATCHES), TEST_BATCH))


def _read_batch(path):
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    try:
        data, labels = batch[b"data"], batch[b"labels"]
    except (KeyError, TypeError):
        raise ValueError("CIFAR-10 batch %s has no b'data'/b'labels' entries" % path)
    data = np.asarray(data, np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError("CIFAR-10 batch %s: data has shape %s, expected [n, 3072]" % (path, data.shape))
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), np.asarray(labels, np.int64)


def load_cifar10(data_dir):
    """``(train_images, train_labels, test_images, test_labels)``: HWC uint8 images, int64 labels, in file order.

    Train is the five data batches concatenated in order (the index of an image is its position).
    """
    folder = find_batch_dir(data_dir)
    train = [_read_batch(os.path.join(folder, name)) for name in TRAIN_BATCHES]
    test_images, test_labels = _read_batch(os.path.join(folder, TEST_BATCH))
    return (np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train]),
            test_images, test_labels)
