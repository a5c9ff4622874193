"""Test helper, run as a script (Keras 2 eager, outside the project's TF1 graph mode): the classification
release's ResNetV2-50 (its ``models/ResNetV2_50.py``: a subclassed ``tf.keras`` model of ``BottleneckBlock``
layers, every conv ``padding="same"`` without bias, BN momentum 0.9 / epsilon 1e-5, the projection or
2x2/2 average-pool + 1x1 shortcut from the pre-activated input, the softmax dense without bias) with random
weights, saved with ``model.save_weights(H5)`` as the release saves its models.

    python tests/seed_keras_writer.py OUT.h5 --seed 0 [--input X.npy --output P.npy] [--load H5]

``--input``: the network input [N, 224, 224, 3] (normalised BGR, as the release feeds it); ``--output``
receives the model's softmax. ``--load H5``: predict with the weights of H5 instead of writing new ones.
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras.layers import (Activation, AvgPool2D, BatchNormalization, Conv2D, Dense,  # noqa: E402
                             GlobalAvgPool2D, MaxPooling2D)


class BottleneckBlock(keras.layers.Layer):
    """The release's unit; sub-layers created in its order (shortcut, avgpool, conv_0..2, bn_0..2)."""

    def __init__(self, filters=None, strides=(1, 1), projection=False, **kwargs):
        self.strides = strides
        self.projection = projection
        if projection or strides != (1, 1):
            self.shortcut = Conv2D(filters * 4, (1, 1), padding="same", use_bias=False)
            if not projection:
                self.avgpool = AvgPool2D((2, 2), strides=(2, 2), padding="same")
        self.conv_0 = Conv2D(filters, (1, 1), strides=(1, 1), padding="same", use_bias=False)
        self.conv_1 = Conv2D(filters, (3, 3), strides=strides, padding="same", use_bias=False)
        self.conv_2 = Conv2D(filters * 4, (1, 1), strides=(1, 1), padding="same", use_bias=False)
        self.bn_0 = BatchNormalization(momentum=0.9, epsilon=1e-5)
        self.bn_1 = BatchNormalization(momentum=0.9, epsilon=1e-5)
        self.bn_2 = BatchNormalization(momentum=0.9, epsilon=1e-5)
        self.activation0 = Activation("relu")
        self.activation1 = Activation("relu")
        self.activation2 = Activation("relu")
        super(BottleneckBlock, self).__init__(**kwargs)

    def call(self, inputs, training):
        res = self.activation0(self.bn_0(inputs, training=training))
        if self.projection:
            shortcut = self.shortcut(res)
        elif self.strides != (1, 1):
            shortcut = self.shortcut(self.avgpool(res))
        else:
            shortcut = inputs
        res = self.conv_0(res)
        res = self.conv_1(self.activation1(self.bn_1(res, training=training)))
        res = self.conv_2(self.activation2(self.bn_2(res, training=training)))
        return res + shortcut


class ResNetV2_50(keras.models.Model):
    """The release's model: conv0 7x7/2, max-pool 3/2 SAME, blocks conv1_0..conv4_2, bn, relu, GAP, softmax fc."""

    def __init__(self, num_class=1000, **kwargs):
        super(ResNetV2_50, self).__init__(**kwargs)
        self.conv0 = Conv2D(64, (7, 7), strides=(2, 2), name="conv0", padding="same", use_bias=False)
        self.maxpool = MaxPooling2D((3, 3), strides=(2, 2), padding="same")
        self.block_collector = []
        for i, (count, filters) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), 1):
            if i == 1:
                self.block_collector.append(BottleneckBlock(filters, projection=True, name="conv1_0"))
            else:
                self.block_collector.append(BottleneckBlock(filters, strides=(2, 2), name="conv%d_0" % i))
            for j in range(1, count):
                self.block_collector.append(BottleneckBlock(filters, name="conv%d_%d" % (i, j)))
        self.bn = BatchNormalization(name="bn", momentum=0.9, epsilon=1e-5)
        self.activation = Activation("relu")
        self.global_average_pooling = GlobalAvgPool2D()
        self.fc = Dense(num_class, name="fully_connected", activation="softmax", use_bias=False)

    def call(self, inputs, training):
        net = self.maxpool(self.conv0(inputs))
        for block in self.block_collector:
            net = block(net, training)
        net = self.activation(self.bn(net, training))
        return self.fc(self.global_average_pooling(net))


def randomize(model, seed):
    """Random weights with non-trivial BN statistics, scaled so that the logits spread over a few units."""
    rng = np.random.RandomState(seed)
    for w in model.weights:
        shape, name = w.shape.as_list(), w.name
        if "moving_variance" in name or "gamma" in name:
            value = rng.uniform(0.5, 1.5, shape)
        elif "kernel" in name:
            scale = 8.0 if "fully_connected" in name else 0.5
            value = rng.normal(0.0, scale / np.sqrt(np.prod(shape[:-1])), shape)
        else:
            value = rng.normal(0.0, 0.1, shape)
        w.assign(value.astype(np.float32))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("h5")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--input")
    parser.add_argument("--output")
    parser.add_argument("--load", action="store_true", help="read the weights of H5 instead of writing them")
    args = parser.parse_args()
    model = ResNetV2_50()
    model.build(input_shape=(None, 224, 224, 3))
    if args.load:
        model.load_weights(args.h5)
    else:
        randomize(model, args.seed)
        model.save_weights(args.h5)
    if args.input:
        np.save(args.output, model(np.load(args.input), training=False).numpy())


if __name__ == "__main__":
    main()
