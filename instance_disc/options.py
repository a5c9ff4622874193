"""Every setting of instance discrimination as one flag table (``common.cli``), and the checks that need data.

The table lists every key of exp_configs/instance_disc.json: the release's flags keep their spellings
(``--nce-k``, ``--low-dim``, ``-b``, ...), config-only keys have ``flag=False`` (``--set NAME=VALUE`` reaches
them), and a config key outside the table is one error line listing the valid ones. Checks that need the
dataset size (``--nce-k`` or ``-b`` larger than the dataset, a resume checkpoint whose bank has another size)
are here too; each raises ``ValueError`` with one line naming the flag or file.
"""
import os

from common import resume
from common.cli import Flag
from common.tf1 import tf

__all__ = ["CONFIG_FILE", "FLAGS", "RUN_KEYS", "config_of", "check_config", "check_against_data",
           "checkpoint_bank_size"]

CONFIG_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "exp_configs",
                           "instance_disc.json")
BANK_VARIABLE = "instance/memory_bank"

FLAGS = [
    Flag("arch", "resnet18", "backbone: resnet18, resnet34, resnet50, resnet101, resnet152 (any registry backbone "
         "with --set layout=tensorpack)", names=("-a", "--arch")),
    Flag("layout", "torchvision", "torchvision: the release's ResNets (common/models/resnet_torchvision.py); "
         "tensorpack: the registry backbone named by --arch", choices=("torchvision", "tensorpack"), flag=False),
    Flag("low_dim", 128, "embedding dimension D", names=("--low-dim",)),
    Flag("loss", "nce", "nce (the release) or softmax_ce (the updated 65,536-negative model)",
         choices=("nce", "softmax_ce")),
    Flag("nce_k", 4096, "negatives K; 0 = full non-parametric softmax", names=("--nce-k",)),
    Flag("nce_t", 0.07, "temperature T, also the kNN sigma", names=("--nce-t",)),
    Flag("nce_m", 0.5, "memory-bank momentum m", names=("--nce-m",)),
    Flag("lr", 0.03, "initial learning rate", names=("--lr", "--learning-rate")),
    Flag("momentum", 0.9, "SGD momentum"),
    Flag("weight_decay", 1e-4, "coupled weight decay on every trainable variable", names=("--wd", "--weight-decay")),
    Flag("batch_size", 256, "global mini-batch size", names=("-b", "--batch-size")),
    Flag("epochs", 200, "total epochs"),
    Flag("steps_per_epoch", 0, "steps per epoch (0: one pass over the data)", names=("--steps-per-epoch",)),
    Flag("image_size", 224, "training crop size", names=("--image-size",)),
    Flag("reader", "tfdata", "input pipeline of the TFRecords", choices=("tfdata", "dali")),
    Flag("print_freq", 10, "print the loss every N steps (0: never)", names=("-p", "--print-freq")),
    Flag("workers", 4, "accepted for the release's command line: tf.data tunes its threads", names=("-j", "--workers")),
    Flag("lr_decay_epochs", [120, 160], "0-based epochs from which the rate is multiplied by lr_decay", flag=False),
    Flag("lr_decay", 0.1, "learning-rate factor at each lr_decay_epochs entry", flag=False),
    Flag("stem", "imagenet", "imagenet (7x7/2 conv + max-pool) or cifar (3x3/1 conv)", choices=("imagenet", "cifar"),
         flag=False),
    Flag("zero_init", False, "zero-init the last BN gamma of each residual branch (the release: false)", flag=False),
    Flag("width", 1.0, "backbone width multiplier", flag=False),
    Flag("crop_scale", [0.2, 1.0], "area range of the random resized crop", flag=False),
    Flag("resize_size", 256, "test transform: shorter side before the centre crop", flag=False),
    Flag("val_batch_size", 256, "batch of the evaluation passes", flag=False),
    Flag("knn_k", 200, "neighbours of the final weighted kNN", flag=False),
]
# settings that do not define the experiment: a resumed run may change them (e.g. a lower lr after a NaN)
RUN_KEYS = ("lr", "lr_decay", "lr_decay_epochs", "epochs", "print_freq", "workers", "reader",
                 "val_batch_size")


def config_of(args):
    """The settings of ``args`` (from ``common.cli.resolve`` over ``FLAGS``) as a dict, checked."""
    return check_config({f.name: getattr(args, f.name) for f in FLAGS}, args.config)


def check_config(cfg, source):
    """Return ``cfg`` after range checks; a bad value is one ``ValueError`` line naming the flag."""
    for key, low in (("nce_k", 0), ("epochs", 1), ("batch_size", 1), ("low_dim", 1), ("steps_per_epoch", 0),
                     ("print_freq", 0), ("val_batch_size", 1), ("knn_k", 1)):
        if cfg[key] < low:
            raise ValueError("--%s must be >= %d, got %d (config %s)" % (key.replace("_", "-"), low, cfg[key], source))
    if not cfg["nce_t"] > 0 or not 0 <= cfg["nce_m"] <= 1:
        raise ValueError("--nce-t must be > 0 and --nce-m in [0, 1], got %r and %r" % (cfg["nce_t"], cfg["nce_m"]))
    return cfg


def checkpoint_bank_size(path):
    """Rows of the memory bank stored in checkpoint ``path`` (a prefix, a file of it, or a log directory)."""
    if os.path.isdir(path):
        latest = resume.latest_checkpoint(path, "--resume")
        if latest is None:
            raise ValueError("--resume %s: no checkpoint in this directory" % path)
        path = latest
    elif path.endswith(".index") or ".data-" in path:
        path = path.split(".index")[0].split(".data-")[0]
    try:
        shapes = dict(tf.train.list_variables(path))
    except Exception as e:  # unreadable or missing checkpoint: one line
        raise ValueError("--resume %s: cannot read checkpoint (%s)" % (path, str(e).splitlines()[0]))
    if BANK_VARIABLE not in shapes:
        raise ValueError("--resume %s: no %s variable; not an instance_disc checkpoint" % (path, BANK_VARIABLE))
    return path, shapes[BANK_VARIABLE][0]


def check_against_data(cfg, n_data, data, resume=None, training=True):
    """Raise ValueError if (when ``training``) ``--nce-k`` exceeds the dataset, ``-b`` leaves no step per epoch,
    or ``resume``'s bank has another size. Returns the resolved checkpoint prefix of ``resume`` (or None).
    """
    if training and int(cfg["nce_k"]) > n_data:
        raise ValueError("--nce-k %d is larger than the dataset %s (%d training images)" % (cfg["nce_k"], data, n_data))
    if training and int(cfg["batch_size"]) > n_data:
        raise ValueError("-b %d is larger than the dataset %s (%d training images): no training step per epoch"
                         % (cfg["batch_size"], data, n_data))
    if not resume:
        return None
    path, rows = checkpoint_bank_size(resume)
    if rows != n_data:
        raise ValueError("--resume %s: its memory bank has %d rows but %s has %d training images"
                         % (path, rows, data, n_data))
    return path
