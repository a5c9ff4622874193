"""Linear probes on frozen features: one linear head per layer (``linear_heads``) and the TensorPack
``LayerProbeModel`` that puts them on a frozen backbone's endpoints.
"""
import collections

from tensorpack import ModelDesc
from tensorpack.models import BatchNorm
from tensorpack.tfutils.tower import get_current_tower_context
from tensorpack.tfutils.varreplace import freeze_variables

from common.eval.pooling import flatten
from common.tf1 import tf

__all__ = ["LinearHeads", "linear_heads", "LayerProbeModel"]

LinearHeads = collections.namedtuple("LinearHeads", ["logits", "cost", "loss", "wrong_top1", "wrong_top5"])


def linear_heads(features, num_classes, labels=None, kernel_initializer=None, weight_decay=0.0,
                 reduction="sum", scope="linear", feature_bn=False):
    """One linear classifier per entry of ``features`` (name -> tensor, flattened, gradient stopped).

    Variables ``<scope>/<name>/W`` and ``/b`` (bias zeros; kernel Glorot-uniform unless
    ``kernel_initializer``). ``feature_bn`` standardises each flattened feature first with a BatchNorm
    without scale and offset (``<scope>/<name>/bn``: batch statistics in a training tower, their moving
    averages elsewhere), as MAE's linear probe does; it is not part of the papers' protocols, which train on
    raw features. With ``labels``: ``cost`` = sum (``reduction="sum"``) or mean (``"mean"``) over
    layers of the batch-mean softmax cross-entropy; ``loss`` = cost + weight_decay * sum(||W||^2 + ||b||^2)/2;
    float vectors ``wrong-top1-<name>`` / ``wrong-top5-<name>`` (1 = miss), the names TensorPack's
    ``ClassificationError`` reads. Returns a :class:`LinearHeads`.
    """
    if reduction not in ("sum", "mean"):
        raise ValueError("linear_heads: reduction must be 'sum' or 'mean', got %r" % reduction)
    if not features:
        raise ValueError("linear_heads: no features given")
    init = kernel_initializer or tf.glorot_uniform_initializer()
    logits, params = collections.OrderedDict(), []
    for name, feat in features.items():
        flat = flatten(tf.stop_gradient(feat))
        with tf.variable_scope(scope), tf.variable_scope(str(name)):
            if feature_bn:
                flat = BatchNorm("bn", flat, center=False, scale=False, ema_update="internal")
            w = tf.get_variable("W", [flat.shape.as_list()[1], num_classes], initializer=init)
            b = tf.get_variable("b", [num_classes], initializer=tf.zeros_initializer())
        params += [w, b]
        logits[name] = tf.nn.xw_plus_b(flat, w, b, name="logits-%s" % name)
    if labels is None:
        return LinearHeads(logits, None, None, {}, {})
    labels = tf.cast(labels, tf.int64)
    costs = [tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=lg))
             for lg in logits.values()]
    cost = tf.add_n(costs) if reduction == "sum" else tf.add_n(costs) / float(len(costs))
    cost = tf.identity(cost, name="linear_cost")
    decay = weight_decay * tf.add_n([tf.nn.l2_loss(p) for p in params]) if weight_decay else 0.0
    loss = tf.identity(cost + decay, name="linear_loss")
    wrong = {}
    for k in (1, 5):
        wrong[k] = collections.OrderedDict(
            (name, tf.cast(tf.logical_not(tf.nn.in_top_k(lg, labels, min(k, num_classes))), tf.float32,
                           name="wrong-top%d-%s" % (k, name))) for name, lg in logits.items())
    return LinearHeads(logits, cost, loss, wrong[1], wrong[5])


class LayerProbeModel(ModelDesc):
    """TensorPack ModelDesc: frozen ``backbone_fn(image) -> endpoints`` + :func:`linear_heads`.

    ``layer_poolers``: layer name -> pooling callable (None: flatten). Inputs ``image`` float32
    ``[None] + image_shape``, ``label`` int64 and an unused ``index`` (``make_dataset``'s batches).
    ``optimizer_fn(lr_tensor)`` (default Momentum 0.9) reads the rate handed to ``optimizer(lr)`` (initially ``lr``);
    ``head_options`` go to :func:`linear_heads`.
    """

    def __init__(self, backbone_fn, layer_poolers, num_classes, image_shape=(224, 224, 3), optimizer_fn=None,
                 lr=0.01, **head_options):
        if not layer_poolers:
            raise ValueError("LayerProbeModel: layer_poolers names no layer")
        self.backbone_fn, self.layer_poolers = backbone_fn, collections.OrderedDict(layer_poolers)
        self.num_classes, self.image_shape = num_classes, list(image_shape)
        self.optimizer_fn, self.lr, self.head_options = optimizer_fn, lr, head_options
        self.heads = None

    def inputs(self):
        """Input signature: image, label and index (the batches of ``common.data.input.make_dataset``)."""
        return [tf.TensorSpec([None] + self.image_shape, tf.float32, "image"),
                tf.TensorSpec([None], tf.int64, "label"), tf.TensorSpec([None], tf.int64, "index")]

    def build_graph(self, image, label, index=None):
        """Frozen endpoints -> pooled features -> heads; returns the total loss (heads in ``self.heads``)."""
        ctx = get_current_tower_context()
        if ctx is None or ctx.is_training:
            with freeze_variables(stop_gradient=False, skip_collection=True):
                endpoints = self.backbone_fn(image)
        else:  # an inference tower reuses the frozen variables
            endpoints = self.backbone_fn(image)
        missing = [n for n in self.layer_poolers if n not in endpoints]
        if missing:
            raise ValueError("LayerProbeModel: layer %r is not an endpoint (have: %s)"
                             % (missing[0], ", ".join(sorted(map(str, endpoints)))))
        feats = collections.OrderedDict(
            (n, pool(endpoints[n]) if pool else endpoints[n]) for n, pool in self.layer_poolers.items())
        self.heads = linear_heads(feats, self.num_classes, labels=label, **self.head_options)
        return self.heads.loss

    def optimizer(self, lr):
        """The optimiser (``optimizer_fn``, default Momentum 0.9) on the rate ``lr`` (``launch_train`` or
        ``run_linear_eval`` makes it, starting at ``self.lr``)."""
        return self.optimizer_fn(lr) if self.optimizer_fn else tf.train.MomentumOptimizer(lr, 0.9)
