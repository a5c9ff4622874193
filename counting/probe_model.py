"""Phase 2 (``Counter_Model``, ``linear_classifier=True``): five linear heads on frozen conv1..conv5.

Each head average-pools its conv map (window = stride = s_k, SAME padding counting only valid cells),
flattens it and applies one fully-connected layer; the loss is the mean of the five cross-entropies.
The backbone is built conv-only and frozen (the release crashed without ``--pretrained``: it built the fc layers
and indexed past the five pool sizes). Per head, ``top1-correct-<layer>`` holds the per-image correct
indicators that validation averages into an accuracy (the release logged this accuracy under an error name).
"""
import collections

from tensorpack import ModelDesc
from tensorpack.callbacks import ClassificationError
from tensorpack.tfutils.tower import get_current_tower_context
from tensorpack.tfutils.varreplace import freeze_variables

from common.eval.pooling import pool_window
from common.eval.probe import linear_heads
from common.models.registry import get_model
from common.tf1 import tf
from counting.optimizers import make_optimizer

__all__ = ["LAYERS", "pooled_dims", "accuracy_inferencers", "CountingProbeModel"]

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")


def pooled_dims(map_sizes, channels, pool_sizes):
    """Flattened feature size per head: ``ceil(map / s)^2 * channels`` (SAME average pooling)."""
    return [(-(-m // s)) ** 2 * c for m, c, s in zip(map_sizes, channels, pool_sizes)]


def accuracy_inferencers():
    """Validation averages of each head's correct indicators, logged as ``val_top1_accuracy_<layer>``.

    TensorPack's ``ClassificationError`` only averages the vector it is given over all images; fed the
    correct indicators, that average is the accuracy.
    """
    return [ClassificationError("top1-correct-" + name, "val_top1_accuracy_" + name) for name in LAYERS]


class CountingProbeModel(ModelDesc):
    """Linear classifiers on the frozen conv layers of the counting AlexNet (``feature_bn``: standardised inputs,
    ``common.eval.probe.linear_heads``)."""

    def __init__(self, image_size, num_classes, pool_sizes, opt, backbone="alexnet_counting", feature_bn=False):
        if len(pool_sizes) != len(LAYERS):
            raise ValueError("pool_sizes: need one window per layer %s, got %r" % (", ".join(LAYERS), pool_sizes))
        self.image_size, self.num_classes, self.pool_sizes = image_size, num_classes, list(pool_sizes)
        self.opt = opt
        self.backbone, self.feature_bn = backbone, feature_bn

    def inputs(self):
        shape = [None, self.image_size, self.image_size, 3]
        return [tf.TensorSpec(shape, tf.float32, "imgs"), tf.TensorSpec([None], tf.int64, "label"),
                tf.TensorSpec([None], tf.int64, "index")]

    def build_graph(self, imgs, label, index):
        with freeze_variables(stop_gradient=True, skip_collection=True):
            endpoints = get_model(self.backbone)(imgs, is_training=False, num_classes=None)
        feats = collections.OrderedDict(
            (name, pool_window(endpoints[name], size, "avg", "SAME")) for name, size in zip(LAYERS, self.pool_sizes))
        heads = linear_heads(feats, self.num_classes, labels=label, reduction="mean", feature_bn=self.feature_bn)
        correct = [tf.subtract(1.0, heads.wrong_top1[name], name="top1-correct-" + name) for name in LAYERS]
        if get_current_tower_context().is_main_training_tower:
            tf.summary.scalar("loss/loss", heads.loss)
            tf.summary.scalar("acc/acc", tf.reduce_mean(tf.stack([tf.reduce_mean(c) for c in correct])))
        return heads.loss

    def optimizer(self, lr):
        """The release's ``--opt`` on the rate ``lr`` (``lr_cls``, made by ``launch_train`` from the schedule)."""
        return make_optimizer(self.opt, lr)
