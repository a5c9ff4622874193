"""Linear evaluation of frozen features: pooling of endpoints, one linear head per layer, training driver,
and a JSON / Markdown / PNG report of top-1 and top-5 per layer.

Pooling rules of the papers: counting averages conv1..conv5 with SAME windows [7, 6, 4, 4, 3]
(``avg_pool_to_size`` or ``pool_window``); revisiting max-pools every endpoint to at most 9000 features
(``adaptive_pool_to_features``); Local Aggregation average-pools layers above 200,000 features by 2 or 4
(``avg_pool_if_large``); anything else is flattened.
"""
import collections
import json
import math
import os
import time

import numpy as np
from tensorpack import ModelDesc
from tensorpack.models import BatchNorm
from tensorpack.tfutils.tower import TowerContext, get_current_tower_context
from tensorpack.tfutils.varreplace import freeze_variables

from common.tf1 import tf

__all__ = ["pool_window", "avg_pool_to_size", "adaptive_pool_to_features", "avg_pool_if_large", "flatten",
           "LinearHeads", "linear_heads", "LinearProbeModel", "piecewise_lr", "run_linear_eval",
           "evaluate_linear_probe", "write_report"]

LinearHeads = collections.namedtuple("LinearHeads", ["logits", "cost", "loss", "wrong_top1", "wrong_top5"])


def _spatial(x, data_format):
    """Static (H, W, C) of a rank-4 tensor."""
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError("pooling: data_format must be NHWC or NCHW, got %r" % data_format)
    shape = x.shape.as_list()
    if len(shape) != 4 or None in shape[1:]:
        raise ValueError("pooling: need a rank-4 tensor with static H, W, C, got %s for %s" % (shape, x.name))
    return tuple(shape[1:]) if data_format == "NHWC" else (shape[2], shape[3], shape[1])


def pool_window(x, window, mode="avg", padding="SAME", data_format="NHWC"):
    """Pool with a square ``window`` = stride (``avg`` over valid cells only, or ``max``); keeps the layout."""
    if mode not in ("avg", "max"):
        raise ValueError("pooling: mode must be 'avg' or 'max', got %r" % mode)
    pool = tf.nn.avg_pool if mode == "avg" else tf.nn.max_pool
    nhwc = x if data_format == "NHWC" else tf.transpose(x, [0, 2, 3, 1])
    out = pool(nhwc, [1, window, window, 1], [1, window, window, 1], padding)
    return out if data_format == "NHWC" else tf.transpose(out, [0, 3, 1, 2])


def avg_pool_to_size(x, size, data_format="NHWC"):
    """Average-pool (SAME, window = stride = ceil(H / size)) so that the map becomes ``size`` x ``size``."""
    h, w, _ = _spatial(x, data_format)
    window = int(math.ceil(h / float(size)))
    if h != w or int(math.ceil(h / float(window))) != size:
        raise ValueError("avg_pool_to_size: a %dx%d map of %s cannot be pooled to %dx%d with one window = stride"
                         % (h, w, x.name, size, size))
    return pool_window(x, window, "avg", "SAME", data_format)


def adaptive_pool_to_features(x, max_features=9000, mode="max", data_format="NHWC"):
    """Revisiting's rule: if H*W*C > ``max_features``, pool with window = stride =
    ceil(sqrt(H*W*C / max_features)) (clamped to [1, min(H, W)], VALID); rank-2 tensors pass through."""
    if x.shape.ndims == 2:
        return x
    h, w, c = _spatial(x, data_format)
    if h * w * c <= max_features:
        return x
    window = min(max(int(math.ceil(math.sqrt(h * w * c / float(max_features)))), 1), min(h, w))
    return pool_window(x, window, mode, "VALID", data_format)


def avg_pool_if_large(x, threshold=200000, data_format="NHWC"):
    """Local Aggregation's rule: F = H*W*C; if F > threshold average-pool (SAME) with window = stride 2,
    or 4 if F / 4 > threshold; otherwise unchanged."""
    if x.shape.ndims == 2:
        return x
    h, w, c = _spatial(x, data_format)
    features = h * w * c
    if features <= threshold:
        return x
    return pool_window(x, 4 if features / 4.0 > threshold else 2, "avg", "SAME", data_format)


def flatten(x):
    """``[B, ...]`` -> ``[B, prod(...)]`` (static feature size)."""
    dims = x.shape.as_list()[1:]
    if None in dims:
        raise ValueError("flatten: %s needs a static shape beyond the batch, got %s" % (x.name, dims))
    return tf.reshape(x, [-1, int(np.prod(dims))])


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


class LinearProbeModel(ModelDesc):
    """TensorPack ModelDesc: frozen ``backbone_fn(image) -> endpoints`` + :func:`linear_heads`.

    ``layer_poolers``: layer name -> pooling callable (None: flatten). Inputs ``image`` float32
    ``[None] + image_shape``, ``label`` int64 and an unused ``index`` (``make_dataset``'s batches).
    ``optimizer_fn(lr_tensor)`` (default Momentum 0.9) reads the non-trainable ``learning_rate`` variable;
    ``head_options`` go to :func:`linear_heads`.
    """

    def __init__(self, backbone_fn, layer_poolers, num_classes, image_shape=(224, 224, 3), optimizer_fn=None,
                 lr=0.01, **head_options):
        if not layer_poolers:
            raise ValueError("LinearProbeModel: layer_poolers names no layer")
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
            raise ValueError("LinearProbeModel: layer %r is not an endpoint (have: %s)"
                             % (missing[0], ", ".join(sorted(map(str, endpoints)))))
        feats = collections.OrderedDict(
            (n, pool(endpoints[n]) if pool else endpoints[n]) for n, pool in self.layer_poolers.items())
        self.heads = linear_heads(feats, self.num_classes, labels=label, **self.head_options)
        return self.heads.loss

    def optimizer(self):
        """The optimiser on the ``learning_rate`` variable."""
        lr = tf.get_variable("learning_rate", initializer=float(self.lr), trainable=False)
        return self.optimizer_fn(lr) if self.optimizer_fn else tf.train.MomentumOptimizer(lr, 0.9)


def piecewise_lr(base_lr, boundaries, factor=0.1):
    """``step -> lr``: ``base_lr`` times ``factor`` per boundary (global step) already passed."""
    boundaries = sorted(boundaries)
    return lambda step: base_lr * factor ** sum(step >= b for b in boundaries)


def _image_label(iterator):
    """First two components (image, label) of an iterator's next batch."""
    return tuple(iterator.get_next())[:2]


def _evaluate(sess, init_op, heads):
    """Top-1 / top-5 per layer over one pass of an initializable validation iterator."""
    sess.run(init_op)
    misses = collections.OrderedDict((name, ([], [])) for name in heads.wrong_top1)
    while True:
        try:
            w1, w5 = sess.run([heads.wrong_top1, heads.wrong_top5])
        except tf.errors.OutOfRangeError:
            break
        for name, (m1, m5) in misses.items():
            m1.append(w1[name])
            m5.append(w5[name])
    if not next(iter(misses.values()))[0]:
        raise ValueError("linear evaluation: the validation dataset produced no batch")
    return collections.OrderedDict(
        (name, {"top1": 1.0 - float(np.mean(np.concatenate(m1))), "top5": 1.0 - float(np.mean(np.concatenate(m5)))})
        for name, (m1, m5) in misses.items())


def _build_eval_tower(model, val_data):
    """(iterator, heads) of an inference tower on ``val_data()`` in the current graph."""
    val_it = tf.data.make_initializable_iterator(val_data())
    with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE), TowerContext("val", is_training=False):
        model.build_graph(*_image_label(val_it))
    return val_it, model.heads


def evaluate_linear_probe(model, val_data, checkpoint):
    """Restore ``checkpoint`` (e.g. written by ``common.train.launch_train`` for ``model``) and return the
    top-1 / top-5 of every head over one pass of ``val_data()``: ``{layer: {"top1": .., "top5": ..}}``."""
    with tf.Graph().as_default():
        with freeze_variables(stop_gradient=False, skip_collection=True):  # nothing trains in this graph
            val_it, heads = _build_eval_tower(model, val_data)
        with tf.Session() as sess:
            tf.train.Saver().restore(sess, checkpoint)
            return _evaluate(sess, val_it.initializer, heads)


def run_linear_eval(model, train_data, val_data, steps, lr_schedule=None, init_fn=None, logdir=None,
                    out_dir=None, title="linear evaluation", reference=None, log_every=100):
    """Train ``model``'s heads for ``steps`` steps on ``train_data`` and evaluate them on all of
    ``val_data``; returns ``{layer: {"top1": .., "top5": ..}}`` (fractions).

    ``train_data`` / ``val_data``: functions returning a ``tf.data.Dataset`` of ``(image, label[, index])``
    batches (called in the evaluation's own graph; the train one is re-initialised when it ends).
    ``lr_schedule(step) -> lr`` sets the learning rate per step (default: constant ``model.lr``).
    ``init_fn(sess)`` restores the backbone after variable initialisation. ``logdir``: final checkpoint of
    the heads. ``out_dir``: :func:`write_report` there (``title``, ``reference``).
    """
    if steps < 1:
        raise ValueError("run_linear_eval: steps must be >= 1, got %r" % steps)
    with tf.Graph().as_default():
        train_it = tf.data.make_initializable_iterator(train_data())
        with TowerContext("", is_training=True):
            loss = model.build_graph(*_image_label(train_it))
        train_heads = model.heads
        step_var = tf.train.get_or_create_global_step()
        with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
            opt = model.optimizer()
        lr_var = [v for v in tf.global_variables() if v.op.name == "learning_rate"][0]
        train_op = opt.minimize(loss, global_step=step_var, var_list=tf.trainable_variables())
        val_it, val_heads = _build_eval_tower(model, val_data)
        train_wrong = tf.reduce_mean(tf.stack(list(train_heads.wrong_top1.values())))
        with tf.Session() as sess:
            sess.run([tf.global_variables_initializer(), train_it.initializer])
            if init_fn is not None:
                init_fn(sess)
            start = time.time()
            for step in range(steps):
                if lr_schedule is not None:
                    lr_var.load(lr_schedule(step), sess)
                try:
                    _, loss_v, wrong_v = sess.run([train_op, loss, train_wrong])
                except tf.errors.OutOfRangeError:
                    sess.run(train_it.initializer)
                    _, loss_v, wrong_v = sess.run([train_op, loss, train_wrong])
                if log_every and (step % log_every == 0 or step == steps - 1):
                    print("step %d/%d lr %.3g loss %.4f train top-1 %.3f (%.1fs)" % (
                        step + 1, steps, sess.run(lr_var), loss_v, 1 - wrong_v, time.time() - start), flush=True)
            results = _evaluate(sess, val_it.initializer, val_heads)
            if logdir:
                tf.train.Saver().save(sess, os.path.join(logdir, "model"), global_step=step_var)
    if out_dir:
        write_report(results, out_dir, title, reference)
    return results


def _atomic_write(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def write_report(results, out_dir, title, reference=None):
    """Write ``results.json``, ``results.md`` (a table) and ``results.png`` (bar chart of top-1 per layer,
    with ``reference`` bars when given) into ``out_dir``; returns the three paths.

    ``results``: ``{layer: {"top1": f, "top5": f}}`` as fractions in [0, 1]; ``reference``:
    ``{layer: top-1 in percent}`` (as papers print them), shown next to the measured bars.
    """
    if not results:
        raise ValueError("write_report: no results to write")
    for layer, res in results.items():
        if not all(k in res and 0.0 <= res[k] <= 1.0 for k in ("top1", "top5")):
            raise ValueError("write_report: results[%r] needs top1 and top5 fractions in [0, 1], got %r"
                             % (layer, res))
    reference = reference or {}
    layers = list(results)
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, "results." + ext) for ext in ("json", "md", "png")]

    def _json(path):
        with open(path, "w") as f:
            json.dump({"title": title, "results": results, "reference_top1_percent": reference}, f, indent=2)

    def _markdown(path):
        rows = ["# %s" % title, "", "| layer | top-1 (%) | top-5 (%) | reference top-1 (%) |", "|---|---|---|---|"]
        for layer in layers:
            ref = reference.get(layer)
            rows.append("| %s | %.2f | %.2f | %s |" % (layer, 100 * results[layer]["top1"],
                                                      100 * results[layer]["top5"],
                                                      "-" if ref is None else "%.1f" % ref))
        with open(path, "w") as f:
            f.write("\n".join(rows) + "\n")

    def _chart(path):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        x = np.arange(len(layers))
        width = 0.4 if reference else 0.6
        fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(layers) + 2), 3.5))
        ax.bar(x - (width / 2 if reference else 0), [100 * results[n]["top1"] for n in layers], width,
               label="measured")
        if reference:
            ax.bar(x + width / 2, [reference.get(n, np.nan) for n in layers], width, label="reference")
            ax.legend()
        ax.set_xticks(x)
        ax.set_xticklabels([str(n) for n in layers])
        ax.set_ylabel("top-1 accuracy (%)")
        ax.set_title(title)
        fig.tight_layout()
        fig.savefig(path, format="png", dpi=100)
        plt.close(fig)

    for path, write in zip(paths, (_json, _markdown, _chart)):
        _atomic_write(path, write)
    return paths
