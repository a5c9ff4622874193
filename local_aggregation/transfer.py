"""Linear transfer of a frozen LA backbone (the release's ``train_transfer.py``): one linear head per listed layer.

Heads are ``common.eval.probe`` heads (bias, variance-scaling init with factor 2 / fan-in / truncated normal,
weight decay on their kernels and biases, summed cross-entropy over layers). BN uses its moving statistics.
Validation averages the softmax over the release's 10 crops and writes a per-layer top-1 table (JSON,
Markdown, bar chart PNG) through ``common.eval.linear.linear_report``.
"""
import collections
import time

from tensorpack.callbacks import Callback
from tensorpack.tfutils.summary import add_moving_summary
from tensorpack.tfutils.tower import PredictTowerContext
from tensorpack.utils import logger

from common.eval.linear import linear_report, mean_over_pass
from common.eval.probe import LayerProbeModel, linear_heads
from common.tf1 import tf
from local_aggregation.model import backbone_endpoints
from local_aggregation.readout import layer_poolers

__all__ = ["TransferModel", "TransferValidation"]

HEAD_SCOPE = "instance/transfer_dense"


class TransferModel(LayerProbeModel):
    """Frozen ``model_type`` backbone + heads for ``layer_keys`` (trained on ``release_lr``'s schedule);
    ``feature_bn``: standardised head inputs (``common.eval.probe.linear_heads``)."""

    def __init__(self, model_type, layer_keys, num_classes, image_size, width=1, data_format="NHWC",
                 weight_decay=1e-4, vgg_quirk=False, feature_bn=False):
        self.model_type, self.width, self.data_format = model_type, width, data_format
        with tf.Graph().as_default():  # endpoint names, and the layer keys checked before anything is written
            names = backbone_endpoints(tf.zeros([1, image_size, image_size, 3]), False, model_type, width)
        poolers = layer_poolers(names, layer_keys, data_format, vgg_quirk)
        self.layer_keys = collections.OrderedDict(zip(poolers, [str(k).strip() for k in layer_keys]))
        init = tf.variance_scaling_initializer(2.0, "fan_in", "truncated_normal")
        super(TransferModel, self).__init__(self.endpoints, poolers, num_classes, (image_size, image_size, 3),
                                            kernel_initializer=init, weight_decay=weight_decay,
                                            scope=HEAD_SCOPE, feature_bn=feature_bn)

    def endpoints(self, image):
        """Backbone endpoints in inference mode (no BN updates)."""
        return backbone_endpoints(image, False, self.model_type, self.width, 0.0, self.data_format)

    def build_graph(self, image, label, index=None):
        loss = super(TransferModel, self).build_graph(image, label, index)
        wrong = tf.reduce_mean(tf.stack(list(self.heads.wrong_top1.values())))
        add_moving_summary(tf.subtract(1.0, wrong, name="train_top1_mean"))
        return loss

    def head_logits(self, image):
        """``{endpoint name: logits}`` of the trained heads on ``image`` (variables reused)."""
        ends = self.endpoints(image)
        feats = collections.OrderedDict((n, pool(ends[n])) for n, pool in self.layer_poolers.items())
        return linear_heads(feats, self.num_classes, **self.head_options).logits


class TransferValidation(Callback):
    """Every ``period`` steps and at ``final_step``: top-1/top-5 per layer on ``val_dataset()`` (10-crop
    softmax average when ``ten_crop``), reported as ``top1_<layer>`` and written to ``out_dir``."""

    def __init__(self, model, val_dataset, ten_crop, period, out_dir, final_step=None, title="LA linear transfer"):
        self._model, self._val_dataset, self._ten_crop = model, val_dataset, ten_crop
        self._period, self._out_dir, self._final_step, self._title = period, out_dir, final_step, title
        self.last = None

    def _setup_graph(self):
        self._iterator = tf.data.make_initializable_iterator(self._val_dataset())
        image, label = tuple(self._iterator.get_next())[:2]
        if self._ten_crop:  # [B, 10, S, S, 3] -> [B * 10, S, S, 3]
            image = tf.reshape(image, [-1] + list(self._model.image_shape))
        with tf.variable_scope(tf.get_variable_scope(), reuse=True), PredictTowerContext("transfer_val"):
            logits = self._model.head_logits(image)
        self._hits = collections.OrderedDict()
        for name, lg in logits.items():
            probs = tf.nn.softmax(lg)
            if self._ten_crop:
                probs = tf.reduce_mean(tf.reshape(probs, [-1, 10, self._model.num_classes]), axis=1)
            for k in (1, 5):
                self._hits[name, k] = tf.nn.in_top_k(probs, label, min(k, self._model.num_classes))

    def _trigger_step(self):
        if self.global_step % self._period == 0 or self.global_step == self._final_step:
            self.evaluate()

    def evaluate(self):
        """Run the whole validation split once; returns ``{layer key: {"top1", "top5"}}`` (fractions)."""
        start = time.time()
        hits = mean_over_pass(self.trainer.sess, self._iterator.initializer, self._hits)
        self.last = collections.OrderedDict((self._model.layer_keys[name], {"top1": hits[name, 1],
                                                                             "top5": hits[name, 5]})
                                            for name, k in self._hits if k == 1)
        linear_report(self.last, self._out_dir, "%s (step %d)" % (self._title, self.global_step))
        for key, res in self.last.items():
            self.trainer.monitors.put_scalar("top1_%s" % key, res["top1"])
        logger.info("transfer top-1 at step %d: %s (%.1f s)" % (self.global_step, ", ".join(
            "%s %.4f" % (k, r["top1"]) for k, r in self.last.items()), time.time() - start))
        return self.last
