"""Training and evaluation runs shared by ``main.py`` and ``cifar.py``: launch, schedule, bank update, kNN.

``instance_disc.inputs.Data`` says where batches come from (a TFRecord directory or CIFAR arrays).
"""
import json
import logging
import math
import os

from tensorpack import Callback, logger

from common.distributed import cluster_from_args
from common.tf1 import tf
from common.train import launch_train, per_tower_batch
from instance_disc.evaluation import InstanceDiscKnn, evaluate_checkpoint
from instance_disc.flags import RUN_KEYS
from instance_disc.model import InstanceDiscModel, lr_schedule

__all__ = ["steps_per_epoch", "tower_batches", "experiment_of", "PrintLoss", "train", "evaluate", "print_results",
           "train_logdir", "run_or_evaluate", "one_line_errors"]

def steps_per_epoch(cfg, n_train):
    """``--steps-per-epoch``, else ceil(N / B): the release's loader with ``drop_last=False`` (391 on CIFAR at 128,
    5005 on ImageNet at 256), the last step of each epoch on the remainder."""
    return cfg["steps_per_epoch"] or int(math.ceil(n_train / float(cfg["batch_size"])))


def tower_batches(dataset, num_towers):
    """Split every global batch of ``dataset`` into ``num_towers`` consecutive tower batches (sizes differing by at
    most one), one after the other: the towers of a step, each pulling one element from the shared iterator, share
    one global batch, so no step places an index twice and no step spans two epochs."""
    if num_towers == 1:
        return dataset

    def split(*batch):
        n = tf.cast(tf.shape(batch[0])[0], tf.int64)
        return tf.data.Dataset.range(num_towers).map(
            lambda k: tuple(x[k * n // num_towers:(k + 1) * n // num_towers] for x in batch))
    return dataset.flat_map(split)


def check_remainder(cfg, n_train, num_towers):
    """ValueError when an epoch's last batch (``N mod B`` images) is too small to give every tower an image."""
    rest = n_train % int(cfg["batch_size"])
    if 0 < rest < num_towers:
        raise ValueError("-b %d: the last batch of each epoch holds %d image(s) (%d %% %d), fewer than the %d towers; "
                         "choose -b so that the remainder is 0 or at least the number of towers"
                         % (cfg["batch_size"], rest, n_train, cfg["batch_size"], num_towers))


def experiment_of(cfg, data):
    """What defines a run, for the resume check: every setting but the schedule and launch ones, and the
    dataset's size (not its path, which may be spelled another way)."""
    experiment = {k: v for k, v in cfg.items() if k not in RUN_KEYS}
    experiment.update(train_images=int(data.n_train), classes=int(data.num_classes))
    return experiment


class PrintLoss(Callback):
    """Print ``Epoch: [e][i/n] Loss x (avg y)`` every ``freq`` steps, as the release's ``--print-freq``."""

    def __init__(self, freq):
        self.freq = int(freq)

    def _setup_graph(self):
        self._loss = self.get_tensors_maybe_in_tower(["instance_loss:0"])[0]
        self._sum, self._count = 0.0, 0

    def _before_run(self, _):
        return tf.train.SessionRunArgs(fetches=self._loss)

    def _after_run(self, _, run_values):
        loss = float(run_values.results)
        self._sum += loss
        self._count += 1
        step = self.local_step + 1
        if step % self.freq == 0:
            logger.info("Epoch: [%d][%d/%d]\tLoss %.4f (avg %.4f)" % (
                self.epoch_num, step, self.trainer.steps_per_epoch, loss, self._sum / self._count))

    def _trigger_epoch(self):
        self._sum, self._count = 0.0, 0


def _knn_history(logdir):
    """The per-epoch entries of an earlier process's ``<logdir>/knn.json`` (empty for a new run)."""
    path = os.path.join(logdir, "knn.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return {k: v for k, v in json.load(f).items() if k.startswith("epoch")}


def train(cfg, data, logdir, towers, trainer="replicated", cluster=None, epoch_k=1, recompute=False):
    """Train on ``data`` in ``logdir`` (resumed when it holds a checkpoint); returns the kNN results dict, with
    the per-epoch entries of earlier (resumed) processes too."""
    num_towers = max(len(towers), 1)
    per_tower_batch(cfg["batch_size"], towers)  # the global batch splits evenly (full batches)
    check_remainder(cfg, data.n_train, num_towers)
    steps = steps_per_epoch(cfg, data.n_train)
    model = InstanceDiscModel(cfg, data.n_train, cfg["image_size"])  # its bank rows: updated by launch_train
    monitor = InstanceDiscKnn(cfg, data.n_train, data.num_classes, data.val, data.train_eval, epoch_k=epoch_k,
                              recompute=recompute)
    history = _knn_history(logdir)
    callbacks = [monitor] + ([PrintLoss(cfg["print_freq"])] if cfg["print_freq"] else [])
    with tf.Graph().as_default():  # a fresh graph per run, so that runs can follow each other in one process
        launch_train(model, lambda: tower_batches(data.train(cfg["batch_size"]), num_towers), logdir, steps, cfg["epochs"], towers, trainer=trainer,
                     lr_schedule=lr_schedule(cfg), callbacks=callbacks, cluster=cluster,
                     experiment=experiment_of(cfg, data))
    results = dict(history, **monitor.results)
    if history and os.path.isfile(os.path.join(logdir, "knn.json")):
        with open(os.path.join(logdir, "knn.json"), "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
    return results


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


def run_or_evaluate(cfg, data, args, towers, checkpoint, evaluate_only, recompute, flag, epoch_k=1):
    """The scripts' common tail: evaluate ``checkpoint`` (``evaluate_only``; ``flag`` names the option in the
    error) or train in ``train_logdir``; prints and returns the kNN results."""
    if evaluate_only:
        if not checkpoint:
            raise ValueError("%s needs --resume CKPT (the model to evaluate)" % flag)
        results = evaluate(cfg, data, checkpoint, recompute=recompute)
        print_results(results, args.logdir)
        return results
    results = train(cfg, data, train_logdir(args, checkpoint), towers, trainer=args.trainer,
                    cluster=cluster_from_args(args), epoch_k=epoch_k, recompute=recompute)
    print_results(results)
    return results


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
    """The informative line of a TensorFlow run-time error (the failed assertion, else the first line that is not
    TF's "Graph execution error:" header, the traceback of the node or the node's name)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("assertion failed:") or "out of range" in line or "not in [" in line:
            return line.split(" [Condition")[0].replace("assertion failed: ", "").strip("[]")
    skip = ("Graph execution error:", "Detected at node", "File \"", "Node: ", "[[{{node")
    useful = [line for line in lines if not line.startswith(skip)]
    return useful[0] if useful else (lines[0] if lines else message)


def one_line_errors(fn, *args):
    """``fn(*args)``, with a TensorFlow run-time error turned into a one-line ``ValueError`` (which
    ``common.cli.run`` prints as ``error: ...`` with exit status 2; it prints a divergence with status 1)."""
    logging.raiseExceptions = False  # TensorPack logs a failed run with a stray format argument: stay quiet
    try:
        return fn(*args)
    except tf.errors.OpError as e:
        raise ValueError(_op_error_line(e.message))
