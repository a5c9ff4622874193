"""The supervised classifier as a TensorPack ModelDesc: backbone logits, (label-smoothed) cross-entropy,
kernel weight decay, ``wrong-top1``/``wrong-top5`` vectors for validation, Nesterov momentum on ``learning_rate``.
"""
from tensorpack import ModelDesc
from tensorpack.tfutils.summary import add_moving_summary
from tensorpack.tfutils.tower import get_current_tower_context

from common.models import get_model, regularization_loss
from common.tf1 import tf

IMAGE, LABEL, INDEX = "input", "label", "index"


def classifier_logits(images, cfg, is_training, data_format="NHWC"):
    """Logits ``[N, num_classes]`` of backbone ``cfg["model"]`` on normalised float32 NHWC ``images``."""
    options = {"grouped": cfg["grouped"]} if "grouped" in cfg else {}
    ends = get_model(cfg["model"])(images, is_training, num_classes=cfg["num_classes"], data_format=data_format,
                                   weight_decay=cfg["weight_decay"], width=cfg.get("width", 1), **options)
    return ends["logits"]


def classification_loss(logits, labels, num_classes, label_smoothing=0.0):
    """Mean softmax cross-entropy against ``(1 - eps) * onehot + eps / K`` targets (eps = 0: plain labels)."""
    if not label_smoothing:
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    targets = tf.one_hot(labels, num_classes) * (1.0 - label_smoothing) + label_smoothing / num_classes
    return tf.reduce_mean(-tf.reduce_sum(targets * tf.nn.log_softmax(logits), axis=1))


def wrong_topk(logits, labels, k, name):
    """float32 ``[N]``: 1 where ``labels`` is not among the top ``k`` logits (TensorPack's ``wrong-topk``)."""
    return tf.cast(tf.logical_not(tf.nn.in_top_k(logits, labels, min(k, logits.shape.as_list()[1]))),
                   tf.float32, name=name)


class ClassifierModel(ModelDesc):
    """Inputs ``input`` (float32 normalised NHWC), ``label``, ``index`` (int64, unused); output ``prob``."""

    def __init__(self, cfg, data_format="NHWC"):
        self.cfg = cfg
        self.data_format = data_format

    def inputs(self):
        size = self.cfg["image_size"]
        return [tf.TensorSpec([None, size, size, 3], tf.float32, IMAGE),
                tf.TensorSpec([None], tf.int64, LABEL), tf.TensorSpec([None], tf.int64, INDEX)]

    def build_graph(self, image, label, index):
        logits = classifier_logits(image, self.cfg, get_current_tower_context().is_training, self.data_format)
        tf.nn.softmax(logits, name="prob")
        xent = tf.identity(classification_loss(logits, label, self.cfg["num_classes"],
                                               self.cfg.get("label_smoothing", 0.0)), name="xentropy-loss")
        wrong1 = wrong_topk(logits, label, 1, "wrong-top1")
        wrong5 = wrong_topk(logits, label, 5, "wrong-top5")
        wd = tf.identity(regularization_loss(), name="l2_regularize_loss")
        add_moving_summary(tf.reduce_mean(wrong1, name="train-error-top1"),
                           tf.reduce_mean(wrong5, name="train-error-top5"), xent, wd)
        return tf.add(xent, wd, name="cost")

    def optimizer(self, lr):
        """Momentum (Nesterov by default) on the rate ``lr`` (``learning_rate``, made by ``launch_train``)."""
        return tf.train.MomentumOptimizer(lr, self.cfg["momentum"], use_nesterov=self.cfg.get("nesterov", True))
