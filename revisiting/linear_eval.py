"""``--task linear_eval``: logistic regression on every endpoint of a frozen exported trunk (spec 5.2).

Each endpoint is pooled to at most 9000 features (``pool_mode``), patch inputs [N, P, h, w, 3] are embedded
patch by patch and combined (``combine_patches``), and one linear head per endpoint is trained jointly
(sum of the losses) with ``common.eval.linear``; top-1 per endpoint goes to JSON and a bar chart.
"""
import math
import os

from common.tf1 import tf
from common.eval.linear import run_linear_eval
from common.eval.pooling import adaptive_pool_to_features
from common.eval.probe import LayerProbeModel
from revisiting.data import make_input, preprocess_fn, split_size
from revisiting.export import module_net, read_module_spec
from revisiting.net import trunk_options
from revisiting.schedule import lr_at, lr_schedule, steps_per_epoch, total_steps

MAX_FEATURES = 9000
POOL_MODES = ("adaptive_max", "adaptive_avg", "max", "avg")
COMBINE_MODES = ("avg_pool", "max_pool", "concat")


def fractional_pool(x, mode, max_features=MAX_FEATURES):
    """The release's ``adaptive_max``/``adaptive_avg``: fractional pooling of [N, S, S, K] to a t x t map with
    t = floor or ceil of sqrt(max_features / K), whichever gives K*t*t closer to max_features."""
    if x.shape.ndims == 2:
        return x
    size, channels = x.shape.as_list()[1], x.shape.as_list()[3]
    if size * size * channels <= max_features:
        return x
    root = math.sqrt(max_features / float(channels))
    target = max(min((math.floor(root), math.ceil(root)), key=lambda t: abs(channels * t * t - max_features)), 1)
    ratio = min(max(size / float(target) - 1e-5, 1.0), float(size))
    pool = tf.nn.fractional_max_pool if mode == "adaptive_max" else tf.nn.fractional_avg_pool
    return pool(x, [1.0, ratio, ratio, 1.0])[0]


def pool_endpoint(x, mode):
    """Pool one endpoint to at most 9000 features with the release's ``pool_mode``; rank 2 -> [N, 1, 1, C]."""
    if mode not in POOL_MODES:
        raise ValueError("--pool_mode %r: expected one of %s" % (mode, ", ".join(POOL_MODES)))
    if x.shape.ndims == 2:
        return x[:, None, None, :]
    if mode in ("max", "avg"):
        return adaptive_pool_to_features(x, MAX_FEATURES, mode)
    return fractional_pool(x, mode)


def combine_patches(features, num_patches, mode):
    """[N*P, h, w, c] per-patch features -> [N, h, w, c] (mean / max over P) or [N, h, w, P*c] (``concat``,
    channel c*P + p)."""
    shape = features.shape.as_list()[1:]
    grouped = tf.reshape(features, [-1, num_patches] + shape)
    if mode == "avg_pool":
        return tf.reduce_mean(grouped, axis=1)
    if mode == "max_pool":
        return tf.reduce_max(grouped, axis=1)
    if mode == "concat":
        return tf.reshape(tf.transpose(grouped, [0, 2, 3, 4, 1]), [-1] + shape[:2] + [shape[2] * num_patches])
    raise ValueError("--combine_patches %r: expected one of %s" % (mode, ", ".join(COMBINE_MODES)))


def frozen_features(net, num_classes, pool_mode, combine):
    """``backbone_fn(images)`` -> pooled endpoint features (images [N, H, W, 3] or patches [N, P, h, w, 3])."""
    def backbone_fn(images):
        if images.shape.ndims == 5:
            num_patches = images.shape.as_list()[1]
            flat = tf.reshape(images, [-1] + images.shape.as_list()[2:])
            ends = net(flat, False, num_classes=num_classes)
            return {k: combine_patches(pool_endpoint(v, pool_mode), num_patches, combine) for k, v in ends.items()}
        return {k: pool_endpoint(v, pool_mode) for k, v in net(images, False, num_classes=num_classes).items()}
    return backbone_fn


def restore_module(module_dir):
    """``init_fn(sess)`` restoring the ``module/`` variables of the graph from the exported module."""
    def init_fn(sess):
        module_vars = [v for v in tf.global_variables() if v.op.name.startswith("module/")]
        tf.train.Saver(module_vars).restore(sess, os.path.join(module_dir, "variables", "variables"))
    return init_fn


def run(cfg, workdir, record_dir):
    """Train the heads on ``train_split`` and report top-1/top-5 per endpoint on ``val_split`` into
    ``workdir`` (results.json / .md / .png); returns ``{endpoint: {"top1", "top5"}}``."""
    module_dir = cfg.get("hub_module")
    if not module_dir:
        raise ValueError("--task linear_eval needs --hub_module (an exported module directory)")
    spec = read_module_spec(module_dir)
    net = module_net(spec)
    num_classes = int(cfg["num_classes"])
    epoch_steps = steps_per_epoch(split_size(record_dir, cfg["train_split"]), cfg["batch_size"])
    points = lr_schedule(cfg, epoch_steps)
    train_pp, eval_pp = preprocess_fn(cfg, True), preprocess_fn(cfg, False)
    with tf.Graph().as_default():
        probe = tf.data.get_output_shapes(make_input(record_dir, cfg["val_split"], 1, eval_pp, False))[0]
    endpoints = trunk_options(spec["architecture"])[3] + ("logits",)
    model = LayerProbeModel(frozen_features(net, spec["num_classes"], cfg["pool_mode"], cfg["combine_patches"]),
                             {name: None for name in endpoints}, num_classes, image_shape=probe.as_list()[1:],
                             lr=points[0][1], weight_decay=float(cfg.get("weight_decay") or 0.0),
                             optimizer_fn=tf.train.AdamOptimizer if cfg["optimizer"] == "adam" else None)
    return run_linear_eval(
        model, lambda: make_input(record_dir, cfg["train_split"], cfg["batch_size"], train_pp, True,
                                  cfg.get("random_seed")),
        lambda: make_input(record_dir, cfg["val_split"], cfg["eval_batch_size"] or cfg["batch_size"], eval_pp,
                           False),
        total_steps(cfg, epoch_steps), lr_schedule=lambda step: lr_at(points, step), init_fn=restore_module(module_dir),
        logdir=workdir, out_dir=workdir, title="revisiting linear evaluation (%s, %s)" % (spec["task"],
                                                                                    spec["architecture"]),
        log_every=max(total_steps(cfg, epoch_steps) // 10, 1))

