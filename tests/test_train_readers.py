"""``launch_train`` (common/train.py) on the project's record readers: both readers' batches train a model."""
import json
import os

import pytest
from tensorpack import ModelDesc

from common import devices, train
from common.data.augment import AugmentConfig
from common.data.input import make_dataset
from common.tf1 import tf


class MeanPixelClassifier(ModelDesc):
    """Logistic regression on an image's mean colour: inputs as the project's readers yield them."""

    def inputs(self):
        return [tf.TensorSpec([None, 32, 32, 3], tf.uint8, "image"), tf.TensorSpec([None], tf.int64, "label"),
                tf.TensorSpec([None], tf.int64, "index")]

    def build_graph(self, image, label, index):
        x = tf.reduce_mean(tf.cast(image, tf.float32) / 255.0, axis=[1, 2])
        w = tf.get_variable("W", [3, 10], initializer=tf.zeros_initializer())
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=label, logits=tf.matmul(x, w)))

    def optimizer(self):
        return tf.train.GradientDescentOptimizer(0.1)


@pytest.mark.parametrize("reader", ["tfdata", "dali"])
def test_launch_train_takes_both_readers(tmp_path, toy_record_dir, reader):
    aug = AugmentConfig(size=32, crop="resize", normalize=False)
    with tf.Graph().as_default():
        data = make_dataset(toy_record_dir, "train", 8, aug, reader=reader, seed=0)
        train.launch_train(MeanPixelClassifier(), data, str(tmp_path), steps_per_epoch=2, max_epoch=1,
                           towers=devices.setup_devices(""))
    assert json.load(open(os.path.join(str(tmp_path), "stats.json")))[-1]["global_step"] == 2
