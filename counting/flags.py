"""The release's shared command line (``config/base_config.py``) as a ``common.cli`` flag table, and its rules.

Both scripts of ``SCRIPTS`` parse the same flags, as in the release. Precedence: an explicit flag > ``--set``
> the ``--config FILE.json:KEY`` value (the script's phase object, ``counter`` / ``classifier``, over the shared
keys) > the release's default. Unique prefixes are accepted (``--learning_rate_var_nam``,
as in the release's README). Config-only keys (no flag) hold the geometry, augmentation and schedules.
"""
import json
import os

from common import cli

__all__ = ["CONFIG_FILE", "DEFAULT_CONFIG", "OPTIMIZERS", "SCRIPTS", "PHASES", "FLAGS", "build_parser",
           "parse_flags", "experiment_dir", "resolve_max_iters", "write_args_json"]

CONFIG_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "exp_configs", "counting.json")
DEFAULT_CONFIG = CONFIG_FILE + ":imagenet_alexnet"
OPTIMIZERS = ("momentum", "adam", "gd", "rms", "adadelta")
SCRIPTS = {"counter_trn": "Phase 1 of the counting release: self-supervised counting pretraining of AlexNet-v2.",
           "classifier_trn": "Phase 2 of the counting release: linear classifiers on the frozen conv1..conv5."}
PHASES = {"counter_trn": "counter", "classifier_trn": "classifier"}  # script -> its object in the config
NETS = {"alexnet": "alexnet_counting", "alexnet_counting": "alexnet_counting"}
Flag = cli.Flag

FLAGS = [
    # The release's flags: same names, types and defaults.
    Flag("batch_size", 32, "images per tower (per GPU); the counting task needs an even number"),
    Flag("prefix", "default", "accepted and ignored, as in the release (use --data_dir)"),
    Flag("checkpoint", None, "accepted and ignored: training auto-resumes", type=str),
    Flag("dataset", "ImageNet", "accepted and ignored", choices=("ImageNet",)),
    Flag("learning_rate", 1e-4, "initial learning rate"),
    Flag("learning_rate_var_name", None, "name of the non-trainable LR variable (the release: lr_cnt / lr_cls)",
         type=str, required=True),
    Flag("lr_weight_decay", False, "accepted and ignored: the release has no weight decay"),
    Flag("net", "alexnet", "backbone: alexnet (the release's AlexNet-v2 variant)"),
    Flag("exp_name", None, "experiment name (directory under the checkpoint root)", type=str, required=True),
    Flag("cnt_exp_name", "", "classifier phase: the counting experiment to load (a name under --ckpt_root, or a "
                             "path: a directory or checkpoint prefix, e.g. the release's own phase-1 checkpoint "
                             "or a `python -m zoo convert counting` directory)"),
    Flag("epoch", 100, "number of epochs"),
    Flag("max_iters", None, "steps per epoch (default: train images // (batch_size * towers))", type=int),
    Flag("logits_dim", 1000, "size of fc8, the count vector phi"),
    Flag("opt", "momentum", "optimizer", choices=OPTIMIZERS),
    Flag("pretrained", False, "classifier phase: restore conv1-5 from --cnt_exp_name and freeze them"),
    # Added: what the release hard-coded in constants.py, the reader, the random-feature baseline.
    Flag("data_dir", "data/toy/records", "TFRecord directory (build_tfrs.py output) or ImageNet-style JPEG folder"),
    Flag("ckpt_root", "train_log", "checkpoint root; experiments go to <ckpt_root>/<project dir name>/<exp_name>"),
    Flag("reader", "dali", "input pipeline", choices=("dali", "tfdata")),
    Flag("random_features", False, "classifier phase: probe randomly initialised frozen convs (the baseline)"),
    Flag("head_bn", False, "classifier phase: standardise each pooled feature (BatchNorm without scale/offset) "
                           "before its head; not in the release, used by the toy probes"),
    # Config-only: what the release hard-coded in its scripts, models and DALI pipelines.
    Flag("image_size", 256, "crop side (the release: 256)", flag=False),
    Flag("resize_size", 256, "validation: shorter side before the centre crop (the release: 256)", flag=False),
    Flag("crop_scale", [0.08, 1.0], "random resized crop area range (DALI's default)", flag=False),
    Flag("color_jitter", [0.125, 0.5, 0.5, 0.0013889], "brightness, contrast, saturation, hue strengths",
         flag=False),
    Flag("grayscale_prob", 0.0, "probability of a grayscale training image (not in the release)", flag=False),
    Flag("margin", 10.0, "margin of the counting loss's unpaired hinge", flag=False),
    Flag("pool_sizes", [7, 6, 4, 4, 3], "average-pool window and stride of the conv1..conv5 heads", flag=False),
    Flag("eval_every_epochs", 2, "validation period in epochs (also after the last epoch)", flag=False),
    Flag("cnt_schedule", {"tail_epochs": 100, "end_lr": 1e-7, "power": 1.0}, "counting LR decay", flag=False),
    Flag("cls_schedule", {"end_lr": 1e-9, "power": 2.0}, "classifier LR decay", flag=False),
]
SETTINGS = tuple(f.name for f in FLAGS if not f.flag)


def build_parser(description=None):
    """The ``common.cli`` parser of ``FLAGS`` (with ``--config``, ``--set``, ``--logdir`` and the device flags);
    several towers use the parameter-server trainer by default, as the release did."""
    parser = cli.make_parser(FLAGS, description, config_default=DEFAULT_CONFIG)
    parser.set_defaults(trainer="ps")
    return parser


def parse_flags(script, argv=None):
    """``(args, cfg)`` of ``script`` (a key of ``SCRIPTS``) for ``argv``.

    ``args`` holds every flag and setting plus ``backbone``; ``cfg`` is the dict of the config-only settings
    (image_size, pool_sizes, schedules, augmentation). The release's phase names (``counter``, ``classifier``)
    name the scripts too. A bad flag exits with one ``error:`` line and status 2;
    a bad value or config key, or an unknown script, raises ValueError (one line; ``cli.run`` prints it).
    """
    script = {phase: name for name, phase in PHASES.items()}.get(script, script)
    if script not in SCRIPTS:
        raise ValueError("unknown script %r of counting; known: %s" % (script, ", ".join(SCRIPTS)))
    phase = PHASES[script]
    args = cli.resolve(build_parser(SCRIPTS[script]), FLAGS, argv, section=phase, sections=tuple(PHASES.values()))
    if args.net not in NETS:
        raise ValueError("--net %s is not implemented; valid: alexnet" % args.net)
    if args.batch_size < 1 or (phase == "counter" and args.batch_size % 2):
        raise ValueError("--batch_size %d: the counting task pairs the two halves of each tower batch, "
                         "so it must be a positive even number" % args.batch_size)
    args.backbone = NETS[args.net]
    return args, {name: getattr(args, name) for name in SETTINGS}


def experiment_dir(ckpt_root, exp_name):
    """``<ckpt_root>/<basename of the working directory>/<exp_name>``, the release's rule (``utils/path_utils.py``)."""
    return os.path.join(ckpt_root, os.path.basename(os.path.abspath(os.getcwd())), exp_name)


def resolve_max_iters(args, num_train, towers, from_data=False):
    """Steps per epoch: ``num_train // (batch_size * len(towers))`` (every tower that runs reads its own batch, so
    4 towers x 256 on ImageNet give 1251 steps and 2 towers 2502), or ``--max_iters`` when given. ``from_data``
    (phase 2, which recomputes it in the release): always the data's count; a different ``--max_iters`` is a
    ValueError."""
    towers_n = max(1, len(towers))
    steps = max(1, num_train // (args.batch_size * towers_n))
    if from_data and args.max_iters and int(args.max_iters) != steps:
        raise ValueError("--max_iters %d: phase 2 takes its steps per epoch from the data, as the release does: "
                         "%d train images // (--batch_size %d x %d tower(s)) = %d; drop --max_iters"
                         % (args.max_iters, num_train, args.batch_size, towers_n, steps))
    return int(args.max_iters) if args.max_iters and not from_data else steps


def write_args_json(args, path, **derived):
    """Write the parsed flags plus derived fields as sorted, indented JSON (the release's ``args.json``)."""
    record = dict(vars(args))
    record.update(derived)
    with open(path, "w") as f:
        json.dump(record, f, indent=2, sort_keys=True, default=str)
