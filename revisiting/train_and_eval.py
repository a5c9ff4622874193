"""The release's ``train_and_eval.py`` on TensorPack trainers: pretext / supervised training, ``--run_eval``
(validation metrics + export of the trunk), and ``--task linear_eval``.

    python revisiting/train_and_eval.py --config exp_configs/revisiting.json:rotation \
        --workdir train_logs/rotation --dataset_dir data/imagenet/records --gpu 0,1,2,3
    python revisiting/train_and_eval.py --task rotation --architecture revnet50 --filters_factor 16 ...

Every flag of the release is accepted; flags given on the command line override the ``--config`` values.
"""
import argparse
import json
import os
import sys

from tensorpack import ModelDesc
from tensorpack.tfutils.summary import add_moving_summary
from tensorpack.tfutils.tower import TowerContext, get_current_tower_context

from common.tf1 import tf
from common.config import ConfigError, add_config_args, apply_overrides, config_from_args, load_config
from common.data.records import ensure_records
from common.models import regularization_loss
from common.train import add_train_args, launch_train, per_tower_batch, setup_devices
from revisiting import linear_eval
from revisiting.data import make_input, preprocess_fn, split_size
from revisiting.export import export_module, export_path
from revisiting.jigsaw import PERMUTATIONS_FILE, ensure_permutations
from revisiting.net import get_net, trunk_options
from revisiting.preprocess import parse_size, patch_geometry
from revisiting.schedule import lr_schedule, steps_per_epoch, total_steps
from revisiting.tasks import get_task

CONFIG_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "exp_configs",
                           "revisiting.json")
DONE_FILE = "TRAINING_IS_DONE"
# release flag -> type (None: string); booleans are handled separately
FLAGS = {
    "task": None, "architecture": None, "filters_factor": int, "mode": None, "weight_decay": float,
    "dataset": None, "dataset_dir": None, "train_split": None, "val_split": None, "batch_size": int,
    "eval_batch_size": int, "epochs": float, "lr": float, "lr_scale_batch_size": float,
    "lr_decay_factor": float, "decay_epochs": None, "warmup_epochs": float, "optimizer": None, "random_seed": int,
    "preprocessing": None, "resize_size": None, "crop_size": None, "smaller_size": int, "splits_per_side": int,
    "patch_jitter": int, "grayscale_probability": float, "num_of_inception_patches": int, "embed_dim": int,
    "margin": float, "perm_subset_size": int, "permutations_file": None, "eval_model": None, "hub_module": None,
    "pool_mode": None, "combine_patches": None, "signature": None, "serving_input_key": None,
    "serving_input_shape": None, "keep_checkpoint_every_n_hours": int, "save_checkpoints_secs": int,
    "num_classes": int,
}
BOOL_FLAGS = ("last_relu", "randomize_resize_method")
TASK_NAMES = ("rotation", "relative_patch_location", "jigsaw", "exemplar", "supervised", "linear_eval")


def make_parser():
    """argparse parser with the release's flags, ``--config``/``--set`` and the project's launch flags."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_config_args(parser)
    parser.add_argument("--workdir", help="checkpoints, exported module, results (the release's model_dir)")
    parser.add_argument("--run_eval", action="store_true", help="evaluate checkpoints and export the trunk")
    parser.add_argument("--num_gpus", type=int, default=None, help="N > 1 without --gpu: use GPUs 0..N-1")
    parser.add_argument("--use_tpu", action="store_true", help="not supported here (GPU/CPU trainers)")
    for ignored in ("--nouse_tpu",):
        parser.add_argument(ignored, action="store_true", help=argparse.SUPPRESS)
    for ignored in ("--master", "--tpu_worker_name"):
        parser.add_argument(ignored, default=None, help=argparse.SUPPRESS)
    for name, kind in FLAGS.items():
        parser.add_argument("--" + name, type=kind, default=None)
    for name in BOOL_FLAGS:
        parser.add_argument("--" + name, dest=name, action="store_const", const=True, default=None)
        parser.add_argument("--no" + name, dest=name, action="store_const", const=False)
    add_train_args(parser)
    return parser


def resolve_config(args):
    """The run's config: ``--config`` (default: the ``defaults`` key) with the command-line flags on top."""
    flags = {name: getattr(args, name) for name in list(FLAGS) + list(BOOL_FLAGS)}
    if args.config:
        return config_from_args(args, flags)
    cfg = apply_overrides(load_config(CONFIG_FILE + ":defaults"), args.overrides, "defaults")
    return apply_overrides(cfg, {k: v for k, v in flags.items() if v is not None}, "defaults")


def check_config(cfg):
    """One-line errors for settings that cannot run (before any graph is built)."""
    if cfg["task"] not in TASK_NAMES:
        raise ValueError("--task %r: expected one of %s" % (cfg["task"], ", ".join(TASK_NAMES)))
    for name in ("preprocessing", "batch_size", "epochs", "lr"):
        if cfg.get(name) in (None, ""):
            raise ValueError("--%s is required (or a --config that sets it)" % name)
    preprocess_fn(cfg, True)
    ops = [op.strip() for op in cfg["preprocessing"].split(",")]
    if "crop_patches" in ops:
        size = parse_size(cfg["crop_size"] if "crop" in ops else cfg["resize_size"], "crop_size")
        patch_geometry(size[0], size[1], int(cfg["splits_per_side"]), int(cfg["patch_jitter"] or 0))
    if cfg["task"] == "linear_eval":
        if cfg["eval_model"] != "linear":
            raise ValueError("--eval_model %r: only 'linear' is implemented" % cfg["eval_model"])
        return
    if not cfg.get("architecture"):
        raise ValueError("--architecture is required: resnet50, revnet50, vgg19 (or resnet18 for toy runs)")
    trunk_options(cfg["architecture"], cfg["filters_factor"], cfg["mode"], cfg["last_relu"], cfg["task"])
    if cfg["task"] == "exemplar":
        if "crop_inception_preprocess_patches" not in ops or not cfg.get("num_of_inception_patches"):
            raise ValueError("exemplar needs 'crop_inception_preprocess_patches' in --preprocessing and "
                             "--num_of_inception_patches")
        if cfg.get("margin") is None:
            raise ValueError("exemplar needs --margin (the release's config uses 0.5)")


class PretextModel(ModelDesc):
    """A task's model_fn on the trunk of ``net``: total loss = task loss + the towers' L2 terms."""

    def __init__(self, cfg, task_fn, net, image_shape, label_shape, initial_lr):
        self.cfg, self.task_fn, self.net = cfg, task_fn, net
        self.image_shape, self.label_shape, self.initial_lr = image_shape, label_shape, initial_lr

    def inputs(self):
        """image float32 and label int64 of one tower's batch."""
        return [tf.TensorSpec(self.image_shape, tf.float32, "image"),
                tf.TensorSpec(self.label_shape, tf.int64, "label")]

    def build_graph(self, image, label):
        """Task loss (named ``task_loss``), ``accuracy`` where the task has logits, plus regularisation."""
        ctx = get_current_tower_context()
        out = self.task_fn({"image": image, "label": label}, ctx.is_training, self.net, self.cfg)
        loss = tf.identity(out["loss"], name="task_loss")
        summaries = [loss]
        if "logits" in out:
            correct = tf.equal(tf.argmax(out["logits"], axis=1), tf.cast(out["labels"], tf.int64))
            summaries.append(tf.reduce_mean(tf.cast(correct, tf.float32), name="accuracy"))
        total = tf.add(loss, regularization_loss(), name="total_loss")
        add_moving_summary(*(summaries + [total]))
        return total

    def optimizer(self):
        """Momentum 0.9 (``sgd``) or Adam on the scheduled ``learning_rate`` variable."""
        lr = tf.get_variable("learning_rate", initializer=float(self.initial_lr), trainable=False)
        tf.summary.scalar("learning_rate", lr)
        if self.cfg["optimizer"] == "adam":
            return tf.train.AdamOptimizer(lr)
        if self.cfg["optimizer"] != "sgd":
            raise ValueError("--optimizer %r: expected sgd or adam" % self.cfg["optimizer"])
        return tf.train.MomentumOptimizer(lr, 0.9)


def _task_setup(cfg, workdir):
    """(task model_fn, net) with the jigsaw permutation file placed next to the checkpoints."""
    if cfg["task"] == "jigsaw":
        cfg["permutations_file"] = cfg.get("permutations_file") or os.path.join(workdir, PERMUTATIONS_FILE)
        ensure_permutations(cfg["permutations_file"], n=int(cfg.get("num_permutations") or 100))
    net = get_net(cfg["architecture"], cfg["filters_factor"], cfg["mode"], cfg["last_relu"], cfg["weight_decay"],
                  cfg["task"])
    return get_task(cfg["task"]), net


def train(cfg, workdir, record_dir, towers, trainer):
    """Pretext (or supervised) training with the release's schedule; writes TRAINING_IS_DONE at the end."""
    os.makedirs(workdir, exist_ok=True)
    task_fn, net = _task_setup(cfg, workdir)
    batch = per_tower_batch(int(cfg["batch_size"]), towers)
    epoch_steps = steps_per_epoch(split_size(record_dir, cfg["train_split"]), cfg["batch_size"])
    points = lr_schedule(cfg, epoch_steps)
    pp = preprocess_fn(cfg, True)

    def dataset():
        return make_input(record_dir, cfg["train_split"], batch, pp, True, cfg.get("random_seed"))
    with tf.Graph().as_default():
        image_shape, label_shape = tf.data.get_output_shapes(dataset())
    model = PretextModel(cfg, task_fn, net, image_shape.as_list(), label_shape.as_list(), points[0][1])
    epochs = float(cfg["epochs"])
    if epochs == int(epochs):
        launch_steps, launch_epochs = epoch_steps, int(epochs)
    else:
        launch_steps, launch_epochs = total_steps(cfg, epoch_steps), 1
    with tf.Graph().as_default():
        launch_train(model, dataset, workdir, launch_steps, launch_epochs, towers, trainer=trainer,
                     lr_schedule=points, lr_interp="linear", lr_step_based=True, experiment=_experiment(cfg))
    open(os.path.join(workdir, DONE_FILE), "w").close()


def _experiment(cfg):
    return {k: v for k, v in cfg.items() if k not in ("dataset_dir", "hub_module")}


def evaluate(cfg, checkpoint, record_dir, task_fn, net):
    """Pretext loss (and accuracy) of ``checkpoint`` on one pass over ``val_split``."""
    with tf.Graph().as_default():
        data = make_input(record_dir, cfg["val_split"], int(cfg["eval_batch_size"] or cfg["batch_size"]),
                          preprocess_fn(cfg, False), False)
        image, label = tf.data.make_one_shot_iterator(data).get_next()
        with TowerContext("", is_training=False):
            out = task_fn({"image": image, "label": label}, False, net, cfg)
        fetches = {"loss": out["loss"]}
        if "logits" in out:
            fetches["accuracy"] = tf.reduce_mean(tf.cast(tf.equal(
                tf.argmax(out["logits"], axis=1), tf.cast(out["labels"], tf.int64)), tf.float32))
        totals, batches = {k: 0.0 for k in fetches}, 0
        with tf.Session() as sess:
            tf.train.Saver(tf.global_variables()).restore(sess, checkpoint)
            while True:
                try:
                    values = sess.run(fetches)
                except tf.errors.OutOfRangeError:
                    break
                batches += 1
                for k, v in values.items():
                    totals[k] += float(v)
    if not batches:
        raise ValueError("--val_split %s: fewer examples than --eval_batch_size" % cfg["val_split"])
    return {k: v / batches for k, v in totals.items()}


def run_eval(cfg, workdir, record_dir, poll_timeout=600):
    """The release's eval loop: evaluate and export every new checkpoint until TRAINING_IS_DONE; returns the
    last results (with ``module``, the exported directory)."""
    task_fn, net = _task_setup(cfg, workdir)
    done = lambda: os.path.exists(os.path.join(workdir, DONE_FILE))  # noqa: E731
    if tf.train.latest_checkpoint(workdir) is None and done():
        raise ValueError("--workdir %s: no checkpoint to evaluate" % workdir)
    results = None
    for checkpoint in tf.train.checkpoints_iterator(workdir, timeout=poll_timeout, timeout_fn=done):
        results = evaluate(cfg, checkpoint, record_dir, task_fn, net)
        results["checkpoint"] = checkpoint
        results["module"] = export_module(checkpoint, export_path(workdir), cfg)
        print(json.dumps(results), flush=True)
        with open(os.path.join(workdir, "eval_results.json"), "w") as f:
            json.dump(results, f, indent=2)
        if done():
            break
    return results


def main(argv=None):
    """Entry point; bad input exits with status 2 and one ``error:`` line."""
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        if args.use_tpu:
            raise ValueError("--use_tpu: TPUs are not supported by this re-implementation; use --gpu 0,1,...")
        if args.num_gpus and args.num_gpus > 1 and not args.gpu:
            args.gpu = ",".join(str(i) for i in range(args.num_gpus))
        cfg = resolve_config(args)
        check_config(cfg)
        workdir = args.workdir or args.logdir
        if not workdir:
            raise ValueError("--workdir is required")
        if not cfg.get("dataset_dir"):
            raise ValueError("--dataset_dir is required (a TFRecord dir or an ImageNet-style image folder)")
        towers = setup_devices(args)
        record_dir = ensure_records(cfg["dataset_dir"])
        if cfg["task"] == "linear_eval":
            results = linear_eval.run(cfg, workdir, record_dir)
            print(json.dumps(results), flush=True)
        elif args.run_eval:
            run_eval(cfg, workdir, record_dir)
        else:
            train(cfg, workdir, record_dir, towers, args.trainer)
    except (ValueError, ConfigError) as e:
        print("error: %s" % str(e).splitlines()[0], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
