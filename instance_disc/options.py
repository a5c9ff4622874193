"""The release's ``main.py`` / ``cifar.py`` flags mapped onto a config of exp_configs/instance_disc.json.

Flags left unset keep the config's value; ``--set NAME=VALUE`` overrides any key. Checks that need the
dataset size (``--nce-k`` larger than the dataset, a resume checkpoint whose bank has another size) are
here too; each raises ``ValueError`` with one line naming the flag or file.
"""
import os

from common.config import add_config_args, config_from_args
from common.tf1 import tf

__all__ = ["CONFIG_FILE", "FLAG_KEYS", "add_instance_args", "resolve_config", "check_against_data",
           "checkpoint_bank_size"]

CONFIG_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "exp_configs",
                           "instance_disc.json")
# argparse dest -> config key
FLAG_KEYS = {"arch": "arch", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr",
             "momentum": "momentum", "weight_decay": "weight_decay", "low_dim": "low_dim", "nce_k": "nce_k",
             "nce_t": "nce_t", "nce_m": "nce_m", "loss": "loss", "reader": "reader",
             "steps_per_epoch": "steps_per_epoch", "image_size": "image_size"}
BANK_VARIABLE = "instance/memory_bank"


def add_instance_args(parser, config_key):
    """Add the release's model/objective flags (all default to the config) plus ``--config``/``--set``."""
    add_config_args(parser, default="%s:%s" % (CONFIG_FILE, config_key))
    parser.add_argument("--lr", "--learning-rate", type=float, help="initial learning rate (0.03)")
    parser.add_argument("--low-dim", type=int, help="embedding dimension D (128)")
    parser.add_argument("--nce-k", type=int, help="negatives K (4096); 0 = full non-parametric softmax")
    parser.add_argument("--nce-t", type=float, help="temperature T, also the kNN sigma")
    parser.add_argument("--nce-m", type=float, help="memory-bank momentum m (0.5)")
    parser.add_argument("--loss", choices=["nce", "softmax_ce"],
                        help="nce (the release) or softmax_ce (the updated 65,536-negative model)")
    parser.add_argument("--epochs", type=int, help="total epochs")
    parser.add_argument("--steps-per-epoch", type=int, help="steps per epoch (0: one pass over the data)")
    parser.add_argument("--image-size", type=int, help="training crop size")
    parser.add_argument("--reader", choices=["tfdata", "dali"], help="input pipeline")
    return parser


def resolve_config(args):
    """The config of ``args.config`` with ``--set`` values, then every flag given on the command line."""
    flags = {key: getattr(args, dest, None) for dest, key in FLAG_KEYS.items()}
    cfg = config_from_args(args, flag_overrides=flags)
    if cfg["loss"] not in ("nce", "softmax_ce"):
        raise ValueError("config %s: loss must be nce or softmax_ce, got %r" % (args.config, cfg["loss"]))
    for key in ("nce_k", "epochs", "batch_size", "low_dim"):
        if cfg[key] < (0 if key == "nce_k" else 1):
            raise ValueError("--%s must be %s, got %d" % (key.replace("_", "-"),
                                                          ">= 0" if key == "nce_k" else ">= 1", cfg[key]))
    if not cfg["nce_t"] > 0 or not 0 <= cfg["nce_m"] <= 1:
        raise ValueError("--nce-t must be > 0 and --nce-m in [0, 1], got %r and %r" % (cfg["nce_t"], cfg["nce_m"]))
    return cfg


def checkpoint_bank_size(path):
    """Rows of the memory bank stored in checkpoint ``path`` (a prefix, a file of it, or a log directory)."""
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
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
    """Raise ValueError if (when ``training``) ``--nce-k`` exceeds the dataset or ``resume``'s bank has another
    size. Returns the resolved checkpoint prefix of ``resume`` (or None).
    """
    if training and int(cfg["nce_k"]) > n_data:
        raise ValueError("--nce-k %d is larger than the dataset %s (%d training images)" % (cfg["nce_k"], data, n_data))
    if not resume:
        return None
    path, rows = checkpoint_bank_size(resume)
    if rows != n_data:
        raise ValueError("--resume %s: its memory bank has %d rows but %s has %d training images"
                         % (path, rows, data, n_data))
    return path
