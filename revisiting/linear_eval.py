"""``--task linear_eval``: logistic regression on every endpoint of a frozen exported trunk (the release's
``self_supervision/linear_eval.py``).

Each endpoint is pooled to at most 9000 features (``pool_mode``), patch inputs [N, P, h, w, 3] are embedded
patch by patch and combined (``combine_patches``), and one linear head per endpoint is trained jointly
(sum of the losses) on the project's towers with auto-resume; top-1 per endpoint goes to JSON and a bar chart.
"""
import math
import os

from tensorpack.tfutils.sessinit import SaverRestore

from common.tf1 import tf
from common.eval.linear import evaluate_linear_probe, linear_report
from common.eval.pooling import adaptive_pool_to_features
from common.eval.probe import LayerProbeModel
from common.resume import checkpoint_step, latest_checkpoint
from common.schedules import EpochSchedule
from common.train import launch_train, per_tower_batch
from revisiting.data import make_input, preprocess_fn, split_size
from revisiting.export import module_net, read_module_spec
from revisiting.flags import preprocessing_of
from revisiting.hub_module import is_hub_module
from revisiting.net import trunk_options
from revisiting.release import convert
from revisiting.pretext import experiment, launch_plan
from revisiting.schedule import lr_schedule, steps_per_epoch

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


def run(cfg, workdir, record_dir, towers, trainer="replicated", eval_only=False):
    """Train the heads on ``train_split`` over ``towers`` (a checkpoint per epoch, resumed from ``workdir``), then
    report top-1/top-5 per endpoint of the newest checkpoint on ``val_split`` into ``workdir`` (results.json /
    .md / .png); ``eval_only`` skips the training. Returns ``{endpoint: {"top1", "top5"}}``."""
    module_dir = cfg.get("hub_module")
    if not module_dir:
        raise ValueError("--task linear_eval needs --hub_module (an exported module directory)")
    module_dir = project_module(module_dir, workdir)
    spec = read_module_spec(module_dir)
    epoch_steps = steps_per_epoch(split_size(record_dir, cfg["train_split"]), cfg["batch_size"])
    points = lr_schedule(cfg, epoch_steps)
    preprocessing = preprocessing_of(cfg)
    train_pp, eval_pp = preprocess_fn(preprocessing, True), preprocess_fn(preprocessing, False)
    with tf.Graph().as_default():
        probe = tf.data.get_output_shapes(make_input(record_dir, cfg["val_split"], 1, eval_pp, False))[0]
    endpoints = trunk_options(spec["architecture"])[3] + ("logits",)
    model = LayerProbeModel(
        frozen_features(module_net(spec), spec["num_classes"], cfg["pool_mode"], cfg["combine_patches"]),
        {name: None for name in endpoints}, int(cfg["num_classes"]), image_shape=probe.as_list()[1:], lr=points[0][1],
        weight_decay=float(cfg.get("weight_decay") or 0.0),
        optimizer_fn=tf.train.AdamOptimizer if cfg["optimizer"] == "adam" else None)
    if not eval_only:
        batch = per_tower_batch(int(cfg["batch_size"]), towers)
        steps, epochs = launch_plan(cfg, epoch_steps)
        with tf.Graph().as_default():
            launch_train(model, lambda: make_input(record_dir, cfg["train_split"], batch, train_pp, True,
                                                   cfg.get("random_seed"), with_index=True),
                         workdir, steps, epochs, towers, trainer=trainer,
                         lr_schedule=EpochSchedule(points[0][1], points, interp="linear", step_based=True),
                         session_init=SaverRestore(module_variables(module_dir)),
                         experiment=experiment(cfg))
    checkpoint = latest_checkpoint(workdir)
    if checkpoint is None:
        raise ValueError("--run_eval: no checkpoint of the linear heads in --workdir %s" % workdir)
    results = evaluate_linear_probe(model, lambda: make_input(
        record_dir, cfg["val_split"], int(cfg["eval_batch_size"] or cfg["batch_size"]), eval_pp, False,
        with_index=True), checkpoint)
    linear_report(results, workdir, "revisiting linear evaluation (%s, %s), step %d"
                 % (spec["task"], spec["architecture"], checkpoint_step(checkpoint)))
    return results


def project_module(module_dir, workdir):
    """``module_dir`` itself when it is a project export; a release TF1 Hub module (directory with
    ``tfhub_module.pb``, or ``.tar.gz``) is first converted into ``<workdir>/converted_module``."""
    if not is_hub_module(module_dir):
        return module_dir
    out = os.path.join(workdir, "converted_module")
    convert(module_dir, out)
    return out


def module_variables(module_dir):
    """The checkpoint prefix of an exported module's variables (names ``module/...``)."""
    return os.path.join(module_dir, "variables", "variables")
