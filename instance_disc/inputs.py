"""Input of instance discrimination: the release's augmentations over TFRecords (main.py) or CIFAR arrays (cifar.py).

ImageNet train: random resized crop (area 0.2-1) -> grayscale p=0.2 -> colour jitter 0.4 -> flip; test:
shorter side ``resize_size``, centre crop. CIFAR train: random resized crop 32 -> jitter -> grayscale, no flip;
test: normalisation only (the orders of the release's main.py and cifar.py). Training batches are drawn within
one epoch (shuffle, batch, then repeat), so a batch never holds an image twice; each epoch ends with the remainder
batch, as the release's loader (``drop_last=False``).
"""
import collections

import numpy as np

from common.data.augment import AugmentConfig, color_jitter, normalize, random_grayscale, random_resized_crop
from common.data.input import make_dataset
from common.tf1 import tf
__all__ = ["CIFAR_MEAN", "CIFAR_STD", "Data", "RecordInput", "train_augment", "test_augment", "record_data", "cifar_train_image",
           "cifar_test_image", "array_dataset", "array_data"]

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)
JITTER = (0.4, 0.4, 0.4, 0.4)

# train(batch) / val() / train_eval(): callables returning tf.data datasets (built in the caller's graph) of
# (image, label, index); train: repeating global batches, each epoch a fresh shuffle whose last batch is the
# remainder (the release's drop_last=False); n_train, num_classes: ints; name: what the error messages call the data.
Data = collections.namedtuple("Data", ["name", "n_train", "num_classes", "train", "val", "train_eval"])
# what record_data reads of the settings: crop sizes, crop area range, test resize, eval batch, train reader
RecordInput = collections.namedtuple("RecordInput", ["image_size", "crop_scale", "resize_size", "val_batch_size",
                                                     "reader"])


def train_augment(image_size, crop_scale):
    """The release's ImageNet training augmentation at ``image_size`` (crop area range ``crop_scale``)."""
    return AugmentConfig(size=image_size, crop="random_resized", scale=tuple(crop_scale), flip=True,
                         color_jitter=JITTER, grayscale_prob=0.2, grayscale_first=True)


def test_augment(image_size, resize_size):
    """Shorter side to ``resize_size`` (bilinear, antialiased when shrinking: the release's PIL ``Resize``),
    centre crop of ``image_size``."""
    return AugmentConfig(size=image_size, crop="center", resize_shorter=resize_size,
                         interpolation="bilinear_antialias")


def record_data(record_dir, meta, spec, device="cpu"):
    """``Data`` over a TFRecord directory as ``spec`` (a ``RecordInput``) says: shuffled repeating train batches,
    finite val/train-eval passes.

    ``device="gpu"`` lets the DALI reader (``spec.reader == "dali"``) decode and augment on the GPU.
    """
    n_train = int(meta["splits"]["train"])
    num_classes = int(meta["num_classes"])

    def finite(split):
        return lambda: make_dataset(record_dir, split, spec.val_batch_size,
                                    test_augment(spec.image_size, spec.resize_size), reader="tfdata", shuffle=False,
                                    repeat=False, drop_remainder=False)

    def train(batch):
        return make_dataset(record_dir, "train", batch, train_augment(spec.image_size, spec.crop_scale),
                            reader=spec.reader, shuffle=True, repeat=True, drop_remainder=False, device=device)
    return Data(record_dir, n_train, num_classes, train, finite("validation"), finite("train"))


def cifar_train_image(image, scale=(0.2, 1.0)):
    """CIFAR training view of a uint8 HWC image: crop (area ``scale``) to 32 -> jitter -> grayscale p=0.2,
    normalised."""
    image = random_resized_crop(tf.cast(image, tf.float32), int(image.shape[0]), scale=scale)
    return normalize(random_grayscale(color_jitter(image, JITTER), 0.2), CIFAR_MEAN, CIFAR_STD)


def cifar_test_image(image):
    """CIFAR test view: normalisation only."""
    return normalize(tf.cast(image, tf.float32), CIFAR_MEAN, CIFAR_STD)


def array_dataset(images, labels, batch, image_fn, shuffle, repeat, drop_remainder):
    """``(image_fn(image), label, index)`` batches of in-memory arrays; batched within an epoch, then repeated."""
    indices = np.arange(len(images), dtype=np.int64)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int64), indices))
    if shuffle:
        dataset = dataset.shuffle(len(images), reshuffle_each_iteration=True)
    dataset = dataset.map(lambda x, y, i: (image_fn(x), y, i), num_parallel_calls=2)
    dataset = dataset.batch(batch, drop_remainder=drop_remainder)
    if repeat:
        dataset = dataset.repeat()
    return dataset.prefetch(2)


def array_data(name, train_images, train_labels, test_images, test_labels, crop_scale, val_batch_size):
    """``Data`` over in-memory CIFAR arrays (index = position in the training arrays): training views cropped to
    area range ``crop_scale``, evaluation passes in batches of ``val_batch_size``."""
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1

    def train(batch):
        return array_dataset(train_images, train_labels, batch,
                             lambda image: cifar_train_image(image, tuple(crop_scale)), True, True, False)

    def finite(images, labels):
        return lambda: array_dataset(images, labels, val_batch_size, cifar_test_image, False, False, False)
    return Data(name, len(train_images), num_classes, train, finite(test_images, test_labels),
                finite(train_images, train_labels))
