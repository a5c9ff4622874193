"""Training and evaluation runs shared by ``main.py`` and ``cifar.py``: launch, schedule, bank update, kNN.

``Data`` says where batches come from (a TFRecord directory or CIFAR arrays); the scripts fill it in.
"""
import collections
import json
import logging
import math
import os
import sys

from common.config import ConfigError
from common.tf1 import tf
from common.train import gather_from_towers, launch_train, per_tower_batch
from instance_disc.evaluation import InstanceDiscKnn, evaluate_checkpoint
from instance_disc.model import InstanceDiscModel, bank_update_op

__all__ = ["Data", "lr_schedule", "train", "evaluate", "print_results", "train_logdir", "run_cli"]

# train(batch) / val() / train_eval(): callables returning tf.data datasets (built in the caller's graph) of
# (image, label, index); n_train, num_classes: ints; name: what the error messages call the data.
Data = collections.namedtuple("Data", ["name", "n_train", "num_classes", "train", "val", "train_eval"])


def lr_schedule(cfg):
    """``[(tensorpack_epoch, lr)]``: lr * decay^i from the release's 0-based epoch ``lr_decay_epochs[i-1]``."""
    return [(int(e) + 1, cfg["lr"] * cfg["lr_decay"] ** (i + 1)) for i, e in enumerate(cfg["lr_decay_epochs"])]


def train(cfg, data, logdir, towers, trainer="replicated", cluster=None, epoch_k=1, recompute=False):
    """Train on ``data`` in ``logdir`` (resumed when it holds a checkpoint); returns the kNN results dict."""
    batch = per_tower_batch(cfg["batch_size"], towers)
    steps = cfg["steps_per_epoch"] or int(math.ceil(data.n_train / float(cfg["batch_size"])))
    model = InstanceDiscModel(cfg, data.n_train, cfg["image_size"])

    def post_step(trainer_):
        return bank_update_op(cfg, data.n_train, gather_from_towers(trainer_, "index"),
                              gather_from_towers(trainer_, "features"), gather_from_towers(trainer_, "label"))
    monitor = InstanceDiscKnn(cfg, data.n_train, data.num_classes, data.val, data.train_eval, epoch_k=epoch_k,
                              recompute=recompute)
    with tf.Graph().as_default():  # a fresh graph per run, so that runs can follow each other in one process
        launch_train(model, lambda: data.train(batch), logdir, steps, cfg["epochs"], towers, trainer=trainer,
                     lr_schedule=lr_schedule(cfg), callbacks=[monitor], post_step=post_step, cluster=cluster,
                     experiment=dict({k: v for k, v in cfg.items() if k != "epochs"}, data=data.name))
    return monitor.results


def evaluate(cfg, data, checkpoint, recompute=False):
    """Weighted kNN (``cfg['knn_k']``, sigma = T) of ``checkpoint`` (None: random initialisation)."""
    model = InstanceDiscModel(cfg, data.n_train, cfg["image_size"])
    return evaluate_checkpoint(model, checkpoint, cfg, data.n_train, data.num_classes, data.val,
                               data.train_eval if recompute else None)


def print_results(results, logdir=None):
    """Print kNN results as percentages (and save them to ``<logdir>/knn_eval.json``)."""
    for name, value in sorted(results.items()):
        if isinstance(value, dict):
            print("%s: top-1 %.2f%%  top-5 %.2f%%" % (name, 100 * value["top1"], 100 * value.get("top5", 0)))
        else:
            print("%s: %.2f%%" % (name, 100 * value))
    if logdir:
        os.makedirs(logdir, exist_ok=True)
        with open(os.path.join(logdir, "knn_eval.json"), "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)


def train_logdir(args, checkpoint):
    """``--logdir`` or ``train_log/instance_disc_<config key>``; with ``--resume``, the checkpoint's directory
    (auto-resumed from its newest checkpoint), and an error if ``--logdir`` names another one."""
    if not checkpoint:
        return args.logdir or os.path.join("train_log", "instance_disc_" + args.config.rsplit(":", 1)[1])
    if args.logdir and os.path.abspath(args.logdir) != os.path.abspath(os.path.dirname(checkpoint)):
        raise ValueError("--resume %s: training continues in the checkpoint's directory; drop --logdir %s"
                         % (args.resume, args.logdir))
    return os.path.dirname(checkpoint)


def _op_error_line(message):
    """The informative line of a TensorFlow run-time error (the failed assertion, else the first line)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("assertion failed:") or "out of range" in line or "not in [" in line:
            return line.split(" [Condition")[0].replace("assertion failed: ", "").strip("[]")
    return lines[0] if lines else message


def run_cli(fn, args):
    """Run ``fn(args)``; bad input ends with one ``error: ...`` line on stderr and exit status 2."""
    logging.raiseExceptions = False  # TensorPack logs a failed run with a stray format argument: stay quiet
    try:
        return fn(args)
    except (ValueError, ConfigError, FloatingPointError) as e:
        message = str(e)
    except tf.errors.OpError as e:
        message = _op_error_line(e.message)
    print("error: %s" % message, file=sys.stderr)
    sys.exit(2)
