"""Input of instance discrimination: the release's augmentations over TFRecords (main.py) or CIFAR arrays (cifar.py).

ImageNet train: random resized crop (area 0.2-1) -> grayscale p=0.2 -> colour jitter 0.4 -> flip; test:
shorter side ``resize_size``, centre crop. CIFAR train: random resized crop 32 -> jitter -> grayscale, no flip;
test: normalisation only (the orders of the release's main.py and cifar.py). Training batches are drawn within
one epoch (shuffle, batch, then repeat), so a batch never holds an image twice; each epoch ends with the remainder
batch, as the release's loader (``drop_last=False``).
"""
import numpy as np

from common.data.augment import AugmentConfig, color_jitter, normalize, random_grayscale, random_resized_crop
from common.data.input import make_dataset
from common.tf1 import tf
from instance_disc.runner import Data

__all__ = ["CIFAR_MEAN", "CIFAR_STD", "train_augment", "test_augment", "record_data", "cifar_train_image",
           "cifar_test_image", "array_dataset", "array_data"]

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)
JITTER = (0.4, 0.4, 0.4, 0.4)


def train_augment(cfg):
    """The release's ImageNet training augmentation at ``cfg['image_size']`` (crop area ``cfg['crop_scale']``)."""
    return AugmentConfig(size=cfg["image_size"], crop="random_resized", scale=tuple(cfg["crop_scale"]), flip=True,
                         color_jitter=JITTER, grayscale_prob=0.2, grayscale_first=True)


def test_augment(cfg):
    """Shorter side to ``cfg['resize_size']`` (bilinear, antialiased when shrinking: the release's PIL ``Resize``),
    centre crop of ``cfg['image_size']``."""
    return AugmentConfig(size=cfg["image_size"], crop="center", resize_shorter=cfg["resize_size"],
                         interpolation="bilinear_antialias")


def record_data(cfg, record_dir, meta, device="cpu"):
    """``Data`` over a TFRecord directory: shuffled repeating train batches, finite val/train-eval passes.

    ``device="gpu"`` lets the DALI reader (``cfg['reader'] == "dali"``) decode and augment on the GPU.
    """
    n_train = int(meta["splits"]["train"])
    num_classes = int(meta["num_classes"])

    def finite(split):
        return lambda: make_dataset(record_dir, split, cfg["val_batch_size"], test_augment(cfg), reader="tfdata",
                                    shuffle=False, repeat=False, drop_remainder=False)

    def train(batch):
        return make_dataset(record_dir, "train", batch, train_augment(cfg), reader=cfg["reader"], shuffle=True,
                            repeat=True, drop_remainder=False, device=device)
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


def array_data(cfg, name, train_images, train_labels, test_images, test_labels):
    """``Data`` over in-memory CIFAR arrays (index = position in the training arrays)."""
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1

    def train(batch):
        return array_dataset(train_images, train_labels, batch,
                              lambda image: cifar_train_image(image, tuple(cfg["crop_scale"])), True, True, False)

    def finite(images, labels):
        return lambda: array_dataset(images, labels, cfg["val_batch_size"], cifar_test_image, False, False, False)
    return Data(name, len(train_images), num_classes, train, finite(test_images, test_labels),
                finite(train_images, train_labels))
