"""The release's flag tables (``param_setter.py``, ``trans_param_setter.py``) and their config merge.

Priority: command-line value > ``--config FILE.json:KEY`` value > flag default (spec 1.2). A config
key that is not a flag of the script is an error naming it (Decision 2: nothing is silently ignored).
"""
import argparse
import sys

from common.config import ConfigError, load_config

__all__ = ["PRETRAIN_FLAGS", "TRANSFER_FLAGS", "FlagParser", "parse_flags", "parse_int_list", "fail"]

# (name, type, default, help); a default of ``REQUIRED`` must come from the command line or the config.
REQUIRED = object()

_COMMON_FLAGS = [
    ("gpu", str, REQUIRED, "GPU ids, e.g. 0 or 0,1,2,3 (one synchronous tower per id; CPU when none exists)"),
    ("image_dir", str, REQUIRED, "TFRecord directory (or an ImageNet-style JPEG folder, built once)"),
    ("cache_dir", str, REQUIRED, "save root: checkpoints go to CACHE_DIR/models/<db>/<col>/<exp_id>"),
    ("batch_size", int, 128, "global batch, split evenly over the towers"),
    ("test_batch_size", int, 64, "validation batch"),
    ("weight_decay", float, 1e-4, "L2 coefficient"),
    ("lr_boundaries", str, None, "comma-separated absolute global steps; LR x0.1 after each"),
    ("train_num_steps", int, None, "last global step (none: run until stopped)"),
    ("model_type", str, "resnet18", "resnet18, resnet50, alexnet_bn_no_drop or vggnet_fx"),
    ("fre_valid", int, 10009, "validation period in steps"),
    ("fre_filter", int, 10009, "checkpoint period when fre_cache_filter is unset"),
    ("fre_cache_filter", int, None, "checkpoint period in steps"),
    ("load_exp", str, None, "db/col/exp_id whose checkpoint initialises this run"),
    ("load_step", int, None, "step of the load_exp checkpoint (none: latest)"),
    ("image_size", int, 224, "crop size fed to the network (the release: 224)"),
    ("width", float, 1.0, "backbone width factor (the release: 1)"),
    ("reader", str, "tfdata", "input pipeline: tfdata or dali"),
    ("trainer", str, "replicated", "several towers: replicated variables (all-reduce) or ps (parameter server)"),
]

PRETRAIN_FLAGS = [
    ("exp_id", str, REQUIRED, "experiment name"),
    ("init_lr", float, 0.03, "initial learning rate"),
    ("gpu_offset", int, 0, "the first tower uses the id at this position of --gpu"),
    ("data_len", int, 1281167, "training images = memory bank rows (0: read from the records' meta.json)"),
    ("instance_t", float, 0.07, "softmax temperature"),
    ("instance_k", int, 4096, "IR: noise samples; LA: background neighbours"),
    ("kmeans_k", str, "10000", "comma-separated k, one k-means run each (LA)"),
    ("task", str, "LA", "IR or LA"),
    ("db_name", str, "la_pub", "first part of the save path"),
    ("col_name", str, "test", "second part of the save path"),
    ("knn_k", int, 200, "K of the extra weighted kNN metric"),
    ("bn_momentum", float, 0.997, "BN moving-average momentum of the ResNets (the release: 0.997)"),
] + _COMMON_FLAGS

TRANSFER_FLAGS = [
    ("save_exp", str, REQUIRED, "db/col/exp_id of this transfer run"),
    ("init_lr", float, 0.01, "initial learning rate"),
    ("ten_crop", bool, False, "10-crop validation"),
    ("resume", bool, False, "continue the latest checkpoint of save_exp instead of loading load_exp"),
    ("get_all_layers", str, None, "comma list of layers to read out (ending-point indices or names)"),
    ("train_crop", str, "default", "default, resnet_crop_flip, alexnet_crop_flip or validate_crop"),
    ("num_classes", int, 1000, "classes of the target dataset (1000 ImageNet, 205 Places205)"),
    ("vgg_quirk", bool, False, "pool VGG features over width and channels as the release did"),
    ("head_bn", bool, False, "standardise each read-out feature (BatchNorm without scale/offset) before its head; "
                             "not in the release, used by the toy read-out"),
] + _COMMON_FLAGS


def fail(message):
    """Print ``error: message`` as one line and exit with status 2."""
    sys.stderr.write("error: %s\n" % message)
    sys.exit(2)


class FlagParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one ``error: ...`` line."""

    def error(self, message):
        fail(message)


def _add_flags(parser, flags):
    parser.add_argument("--config", default=None, help="experiment config as FILE.json:KEY")
    for name, kind, default, text in flags:
        if kind is bool:
            parser.add_argument("--" + name, action="store_true", default=None, help=text)
        else:
            shown = "required" if default is REQUIRED else default
            parser.add_argument("--" + name, type=kind, default=None, help="%s (default: %s)" % (text, shown))


def _cast(name, kind, value, source):
    if value is None:
        return None
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError("%s: %s must be true or false, got %r" % (source, name, value))
        return value
    try:
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError("%s: %s must be %s, got %r" % (source, name, kind.__name__, value))


def parse_flags(flags, argv=None, description=None):
    """Parse ``argv`` against ``flags`` merged with ``--config``; returns an ``argparse.Namespace``.

    Bad input (unknown config key, wrong type, missing required flag) exits with one ``error:`` line.
    """
    parser = FlagParser(description=description)
    _add_flags(parser, flags)
    args = parser.parse_args(argv)
    cfg = {}
    if args.config:
        try:
            cfg = load_config(args.config)
        except ConfigError as e:
            fail(str(e))
    known = {name: (kind, default) for name, kind, default, _ in flags}
    unknown = sorted(set(cfg) - set(known))
    if unknown:
        fail("config %s: key %r is not a flag of this script; valid keys: %s"
             % (args.config, unknown[0], ", ".join(sorted(known))))
    for name, (kind, default) in known.items():
        value = getattr(args, name)
        if value is None:
            try:
                value = _cast(name, kind, cfg.get(name), "config %s" % args.config)
            except ConfigError as e:
                fail(str(e))
        if value is None:
            if default is REQUIRED:
                fail("--%s is required (on the command line or as a config key)" % name)
            value = default
        setattr(args, name, value)
    return args


def parse_int_list(text, name):
    """``"1,2"`` -> ``[1, 2]`` (``None``/empty -> ``[]``); a bad entry is an error naming flag ``name``."""
    if not text:
        return []
    try:
        return [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise ValueError("%s %r: expected comma-separated integers" % (name, text))
