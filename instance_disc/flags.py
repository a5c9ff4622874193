"""Every setting of instance discrimination as one flag table (``common.cli``), each script's command line, and the
checks that need data.

The table lists every key of exp_configs/instance_disc.json: the release's flags keep their spellings
(``--nce-k``, ``--low-dim``, ``-b``, ...), config-only keys have ``flag=False`` (``--set NAME=VALUE`` reaches
them), and a config key outside the table is one error line listing the valid ones. ``parse_flags(script, argv)``
adds the script's own arguments (``ARGUMENTS``). Checks that need the dataset size (``--nce-k`` or ``-b`` larger
than the dataset, a resume checkpoint whose bank has another size) are here too; each raises ``ValueError`` with
one line naming the flag or file.
"""
import os

from common import cli, resume
from common.cli import Flag
from common.tf1 import tf
from instance_disc.inputs import RecordInput

__all__ = ["CONFIG_FILE", "FLAGS", "RUN_KEYS", "SCRIPTS", "ARGUMENTS", "parse_flags", "record_input",
           "check_against_data", "checkpoint_bank_size"]

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
RUN_KEYS = ("lr", "lr_decay", "lr_decay_epochs", "epochs", "print_freq", "workers", "reader", "val_batch_size")


SCRIPTS = {
    "main": "Instance discrimination on ImageNet-style data, with the release's command line (lemniscate main.py).",
    "cifar": "Instance discrimination on CIFAR-10 with the release's cifar.py command line.",
    "linear_eval": "Linear classifiers on frozen instance-discrimination features, one per ResNet endpoint.",
    "show_neighbors": "Draw validation images and their top-10 training neighbours (by the memory bank) as a PNG.",
}
CONFIG_KEYS = {"main": "imagenet_resnet18", "cifar": "cifar10", "linear_eval": "imagenet_resnet18",
               "show_neighbors": "imagenet_resnet18"}  # --config's default: exp_configs/instance_disc.json:KEY
DEVICE_SCRIPTS = ("main", "cifar")  # the scripts with the device flags (--gpu, --cpu_towers, cluster flags)


def _arg(*names, **keywords):
    return names, keywords


_DATA = _arg("data", metavar="DIR", help="TFRecord directory or ImageNet-style folder (train/, val/)")
_TRAINED = _arg("--resume", required=True, help="checkpoint (or log directory) of a trained model")
_PYTORCH = "PyTorch distributed; use the cluster flags (--worker_hosts ...) instead"
ARGUMENTS = {  # each script's arguments besides the flag table: argparse's add_argument(*names, **keywords)
    "main": [
        _DATA,
        _arg("-e", "--evaluate", action="store_true", help="only run weighted kNN (K=200) and exit"),
        _arg("--resume", default="", help="checkpoint (or log directory) to resume or evaluate"),
        _arg("--recompute-memory", action="store_true",
             help="kNN also against train features recomputed with the test transform"),
        _arg("--start-epoch", type=int, help="unsupported: the epoch comes from the checkpoint"),
        _arg("--pretrained", action="store_true", help="unsupported: supervised weights do not fit"),
        _arg("--test-only", action="store_true", help="unsupported: the release's main.py ignores it"),
        _arg("--iter_size", type=int, default=1, help="unsupported above 1 (gradient accumulation)"),
        _arg("--world-size", type=int, default=1, help=_PYTORCH),
        _arg("--dist-url", help=_PYTORCH),
        _arg("--dist-backend", help=_PYTORCH)],
    "cifar": [
        _arg("--data-dir", default="data/cifar10", help="folder with the CIFAR-10 python batches"),
        _arg("-r", "--resume", default="", help="checkpoint (or log directory) to resume or test"),
        _arg("--test-only", action="store_true", help="only run kNN (K=200, recomputed features)")],
    "linear_eval": [
        _DATA, _TRAINED,
        _arg("--layers", default="pre_logits", help="comma-separated endpoints (conv1..conv5, pre_logits, embedding)"),
        _arg("--steps", type=int, default=1000, help="training steps of the linear heads"),
        _arg("--linear-lr", type=float, default=0.1, help="learning rate of the heads"),
        _arg("--decay-steps", default="", help="comma-separated steps where the lr is divided by 10"),
        _arg("--linear-batch-size", type=int, help="batch size (default: the config's)"),
        _arg("--out-dir", help="write results.json/.md/.png here")],
    "show_neighbors": [
        _DATA, _TRAINED,
        _arg("--out", default="neighbors.png", help="PNG to write"),
        _arg("--num-queries", type=int, default=6, help="validation images to show"),
        _arg("--top", type=int, default=10, help="neighbours per query")],
}


def parse_flags(script, argv=None):
    """``(args, cfg)`` of entry script ``script`` (a key of ``SCRIPTS``): ``args``, the Namespace of its command
    line (the flag table, its own arguments); ``cfg``, the dict of the settings, checked. Bad input (an unknown
    script too) raises a one-line ``ValueError``."""
    if script not in SCRIPTS:
        raise ValueError("unknown script %r of instance_disc; known: %s" % (script, ", ".join(SCRIPTS)))
    parser = cli.make_parser(FLAGS, SCRIPTS[script], config_default=CONFIG_FILE + ":" + CONFIG_KEYS[script],
                             devices=script in DEVICE_SCRIPTS)
    for names, keywords in ARGUMENTS[script]:
        parser.add_argument(*names, **keywords)
    args = cli.resolve(parser, FLAGS, argv)
    if script == "main":
        _check_unsupported(args)
    return args, _checked({f.name: getattr(args, f.name) for f in FLAGS}, args.config)


def _check_unsupported(args):
    """ValueError for the release's main.py flags that have no meaning here."""
    if args.pretrained:
        raise ValueError("--pretrained is not supported: supervised 1000-way weights do not fit the 128-d head")
    if args.test_only:
        raise ValueError("--test-only is not used by the release's main.py; use -e/--evaluate")
    if args.iter_size != 1:
        raise ValueError("--iter_size %d: gradient accumulation is not supported; use a smaller -b with "
                         "more --gpu towers instead" % args.iter_size)
    if args.start_epoch:
        raise ValueError("--start-epoch is not supported: --resume takes the epoch from the checkpoint")
    if args.world_size != 1 or args.dist_url or args.dist_backend:
        raise ValueError("--world-size/--dist-url/--dist-backend (PyTorch distributed) are not supported; use "
                         "--worker_hosts/--ps_hosts/--job_name/--task_index (TensorFlow's runtime) instead")


def _checked(cfg, source):
    """``cfg`` after the range checks that ``common.value_checks`` (run by ``cli.resolve``) does not make."""
    for key, low in (("nce_k", 0), ("print_freq", 0), ("knn_k", 1)):
        if cfg[key] < low:
            raise ValueError("--%s must be >= %d, got %d (config %s)" % (key.replace("_", "-"), low, cfg[key], source))
    if not 0 <= cfg["nce_m"] <= 1:
        raise ValueError("--nce-m must be in [0, 1], got %r (config %s)" % (cfg["nce_m"], source))
    return cfg


def record_input(cfg):
    """The input settings of ``cfg`` for ``instance_disc.inputs.record_data``."""
    return RecordInput(*(cfg[name] for name in RecordInput._fields))


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
