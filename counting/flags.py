"""The release's shared command line (``config/base_config.py``) plus flags for what it hard-coded.

Both ``counter_trn.py`` and ``classifier_trn.py`` parse the same flags. Precedence: an explicit flag,
then the ``--config FILE.json:KEY`` section of the script's phase (``counter`` / ``classifier``), then
the release's argparse default. Unique prefixes are accepted (``--learning_rate_var_nam``).
"""
import argparse
import json
import os

from tensorpack import logger

from common.config import ConfigError, add_config_args, load_config
from common.train import add_train_args, available_gpus, setup_devices

__all__ = ["CONFIG_FILE", "DEFAULT_CONFIG", "OPTIMIZERS", "build_parser", "parse_flags", "experiment_dir",
           "resolve_max_iters", "num_devices", "write_args_json", "setup_release_devices"]

CONFIG_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "exp_configs", "counting.json")
DEFAULT_CONFIG = CONFIG_FILE + ":imagenet_alexnet"
OPTIMIZERS = ("momentum", "adam", "gd", "rms", "adadelta")
NETS = {"alexnet": "alexnet_counting", "alexnet_counting": "alexnet_counting"}


def build_parser(description):
    """The release's flags (same names, types and defaults), the launch flags and the project's added ones."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--batch_size", type=int, default=32, help="images per tower (per GPU); must be even")
    p.add_argument("--prefix", default="default", help="accepted and ignored, as in the release (use --data_dir)")
    p.add_argument("--checkpoint", default=None, help="accepted and ignored: training auto-resumes")
    p.add_argument("--dataset", default="ImageNet", choices=["ImageNet"], help="accepted and ignored")
    p.add_argument("--learning_rate", type=float, default=1e-4, help="initial learning rate")
    p.add_argument("--learning_rate_var_name", default=None,
                   help="name of the non-trainable LR variable (lr_cnt / lr_cls); required here or in --config")
    p.add_argument("--lr_weight_decay", action="store_true", help="accepted and ignored: no weight decay (D12)")
    p.add_argument("--net", default="alexnet", help="backbone: alexnet (the release's AlexNet-v2 variant)")
    p.add_argument("--exp_name", required=True, help="experiment name (directory under the checkpoint root)")
    p.add_argument("--cnt_exp_name", default="", help="classifier phase: the counting experiment to load")
    p.add_argument("--epoch", type=int, default=100, help="number of epochs")
    p.add_argument("--max_iters", type=int, default=None,
                   help="steps per epoch (default: train images // (batch_size * towers))")
    p.add_argument("--logits_dim", type=int, default=1000, help="size of fc8, the count vector phi")
    p.add_argument("--opt", default="momentum", choices=OPTIMIZERS, help="optimizer")
    p.add_argument("--pretrained", action="store_true",
                   help="classifier phase: restore conv1-5 from --cnt_exp_name and freeze them")
    # Added: what the release hard-coded in constants.py, the reader, and the D3 baseline.
    p.add_argument("--data_dir", default="data/toy/records",
                   help="TFRecord directory (build_tfrs.py output) or ImageNet-style JPEG folder")
    p.add_argument("--ckpt_root", default="train_log",
                   help="checkpoint root; experiments go to <ckpt_root>/<project dir name>/<exp_name>")
    p.add_argument("--reader", default="dali", choices=["dali", "tfdata"], help="input pipeline")
    p.add_argument("--random_features", action="store_true",
                   help="classifier phase: probe randomly initialised frozen conv features (baseline, D3)")
    p.add_argument("--head_bn", action="store_true",
                   help="classifier phase: standardise each pooled feature (BatchNorm without scale/offset) before "
                        "its head; not in the release, used by the toy probes")
    add_config_args(p, default=DEFAULT_CONFIG)
    add_train_args(p)
    p.set_defaults(gpu="0", trainer="ps")  # the release: GPU 0, SyncMultiGPUTrainerParameterServer
    return p


def _given_flags(parser, argv):
    """Names of the flags that ``argv`` sets explicitly."""
    for action in parser._actions:
        action.default, action.required = argparse.SUPPRESS, False
    return set(vars(parser.parse_args(argv)))


def parse_flags(phase, argv=None, description=None):
    """Parse ``argv`` for ``phase`` ('counter' or 'classifier'); returns ``(args, cfg)``.

    ``args`` holds every flag with config values filled in for flags not given; ``cfg`` is the loaded
    config (the shared geometry: image_size, pool sizes, schedules, augmentation). Errors exit with
    ``error: ...`` and status 2.
    """
    parser = build_parser(description or phase)
    args = parser.parse_args(argv)
    given = _given_flags(build_parser(description or phase), argv)
    try:
        cfg = load_config(args.config, args.overrides)
    except ConfigError as e:
        parser.error(str(e))
    section = cfg.get(phase, {})
    for name, value in section.items():
        if not hasattr(args, name):
            parser.error("config %s: %s.%s is not a flag of this script" % (args.config, phase, name))
        if name not in given:
            setattr(args, name, value)
    if not args.learning_rate_var_name:
        parser.error("--learning_rate_var_name is required (the release uses lr_cnt / lr_cls)")
    if args.net not in NETS:
        parser.error("--net %s is not implemented; valid: alexnet" % args.net)
    if args.batch_size < 1 or (phase == "counter" and args.batch_size % 2):
        parser.error("--batch_size %d: the counting task pairs the two halves of each tower batch, "
                     "so it must be a positive even number" % args.batch_size)
    args.backbone = NETS[args.net]
    return args, cfg


def setup_release_devices(args):
    """``common.train.setup_devices``; on a machine without GPUs, ``--gpu 0,1,2,3`` becomes that many CPU towers.

    This keeps the release's command lines (``--gpu 0,1,2,3``, default ``--gpu 0``) runnable on CPU, with the
    same per-tower batch semantics; the substitution is logged.
    """
    if args.gpu and not args.cpu_towers and not available_gpus():
        logger.warn("no GPU on this machine: --gpu %s runs as %d tower(s) on the CPU"
                    % (args.gpu, num_devices(args.gpu)))
        args.cpu_towers, args.gpu = num_devices(args.gpu), ""
    return setup_devices(args)


def num_devices(gpu_arg):
    """Number of towers named by ``--gpu`` (``'0,1,2,3'`` -> 4)."""
    ids = [g for g in str(gpu_arg).split(",") if g.strip()]
    return max(1, len(ids))


def experiment_dir(ckpt_root, exp_name, create=False):
    """``<ckpt_root>/<basename of the working directory>/<exp_name>``, the release's rule (spec 6)."""
    if create and not os.path.isdir(ckpt_root):
        os.makedirs(ckpt_root)
    path = os.path.join(ckpt_root, os.path.basename(os.path.abspath(os.getcwd())), exp_name)
    if create:
        os.makedirs(path, exist_ok=True)
    return path


def resolve_max_iters(args, num_train):
    """Steps per epoch: ``--max_iters`` if given, else ``num_train // (batch_size * towers)`` (D1, D14)."""
    if args.max_iters:
        return int(args.max_iters)
    return max(1, num_train // (args.batch_size * num_devices(args.gpu)))


def write_args_json(args, path, **derived):
    """Write the parsed flags plus derived fields as sorted, indented JSON (the release's ``args.json``)."""
    record = dict(vars(args))
    record.update(derived)
    with open(path, "w") as f:
        json.dump(record, f, indent=2, sort_keys=True, default=str)
