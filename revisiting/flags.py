"""The release's ``train_and_eval.py`` flag table as ``common.cli`` flags, and the one-line checks of a config.

Every key of ``exp_configs/revisiting.json`` is a name of ``FLAGS``; booleans take ``--flag``, ``--flag True``
(the release's configs write ``--last_relu True``) and ``--noflag``. ``LAUNCH_FLAGS`` are the release's
command-line-only flags (``--run_eval``, ``--num_gpus``, the TPU flags).
"""
import os

from common import cli
from common.cli import Flag
from revisiting.data import preprocess_fn
from revisiting.net import trunk_options
from revisiting.preprocess import PARAMS, Preprocessing, parse_size, patch_geometry

CONFIG_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "exp_configs",
                           "revisiting.json")
SCRIPTS = {"train_and_eval": "the release's train_and_eval.py: pretext/supervised training, --run_eval "
                              "(validation + export) and --task linear_eval"}
TASK_NAMES = ("rotation", "relative_patch_location", "jigsaw", "exemplar", "supervised", "linear_eval")

FLAGS = [
    Flag("task", None, "rotation, relative_patch_location, jigsaw, exemplar, supervised or linear_eval", type=str),
    Flag("architecture", None, "a name containing vgg19, resnet50 or revnet50 (resnet18: toy runs)", type=str),
    Flag("filters_factor", None, "width multiplier (ResNet/RevNet 4 = standard, VGG19 8)", type=int),
    Flag("mode", "v2", "ResNet v1 or v2"),
    Flag("last_relu", True, "ReLU after the trunk's final BN (v2, RevNet)"),
    Flag("weight_decay", 1e-4, "L2 scale of the conv kernels (linear evaluation heads: 0)"),
    Flag("dataset", "imagenet", "the release's only dataset"),
    Flag("dataset_dir", None, "TFRecord dir or an ImageNet-style image folder", type=str),
    Flag("num_classes", 1000, "classes of the supervised task and the linear evaluation"),
    Flag("train_split", "train", "train (984 of 1,024 train shards), val (the other 40), trainval or test"),
    Flag("val_split", "val", "split of --run_eval and of the linear evaluation's test"),
    Flag("batch_size", None, "global batch (images before the task's expansion)", type=int),
    Flag("eval_batch_size", None, "evaluation batch (default: batch_size)", type=int),
    Flag("epochs", None, "training epochs (fractions allowed)", type=float),
    Flag("lr", None, "learning rate at lr_scale_batch_size", type=float),
    Flag("lr_scale_batch_size", None, "base_lr = lr * batch_size / lr_scale_batch_size", type=float),
    Flag("lr_decay_factor", 0.1, "factor per decay epoch"),
    Flag("decay_epochs", None, "comma-separated decay epochs (default: none)", type=str),
    Flag("warmup_epochs", 0.0, "linear warm-up from 0"),
    Flag("optimizer", "sgd", "sgd (momentum 0.9) or adam", choices=("sgd", "adam")),
    Flag("random_seed", None, "seed of the input shuffles", type=int),
    Flag("preprocessing", None, "comma-separated preprocessing ops", type=str),
    Flag("resize_size", None, "H,W (or one size) of resize / inception_preprocess", type=str),
    Flag("crop_size", None, "H,W (or one size) of crop / central_crop", type=str),
    Flag("smaller_size", None, "smaller side of resize_small", type=int),
    Flag("splits_per_side", None, "grid of crop_patches", type=int),
    Flag("patch_jitter", 0, "crop_patches jitter"),
    Flag("grayscale_probability", 1.0, "to_gray probability"),
    Flag("num_of_inception_patches", None, "copies of crop_inception_preprocess_patches", type=int),
    Flag("randomize_resize_method", False, "random resize method in training"),
    Flag("embed_dim", 1000, "per-patch / exemplar embedding size"),
    Flag("margin", None, "exemplar's triplet margin", type=float),
    Flag("perm_subset_size", 8, "jigsaw permutations per training step"),
    Flag("permutations_file", None, "jigsaw permutation file (default: generated next to the checkpoints)",
         type=str),
    Flag("num_permutations", 100, "jigsaw permutations generated when the file is absent", flag=False),
    Flag("head_hidden", 4096, "hidden units of the patch tasks' fc head", flag=False),
    Flag("exemplar_l2_axis", 0, "exemplar L2 normalisation axis (the release: 0, the batch)", flag=False),
    Flag("eval_model", "linear", "linear evaluation head (linear)"),
    Flag("hub_module", None, "exported module directory for --task linear_eval", type=str),
    Flag("pool_mode", "adaptive_max", "pooling to <= 9000 features",
         choices=("adaptive_max", "adaptive_avg", "max", "avg")),
    Flag("combine_patches", "avg_pool", "patch combination", choices=("avg_pool", "max_pool", "concat")),
    Flag("signature", "representation", "module signature read by the linear evaluation"),
    Flag("serving_input_key", "image", "input name of the exported module"),
    Flag("serving_input_shape", "None,None,None,3", "input shape of the exported module"),
    Flag("keep_checkpoint_every_n_hours", 4, "accepted (the release's TPUEstimator setting)"),
    Flag("save_checkpoints_secs", 600, "accepted (checkpoints are written every epoch)"),
]
LAUNCH_FLAGS = [
    Flag("run_eval", False, "evaluate checkpoints (pretext: validation + export; linear_eval: test) only"),
    Flag("num_gpus", None, "the release's spelling of --gpu 0,..,N-1", type=int),
    Flag("use_tpu", False, "not supported (GPU/CPU towers)"),
    Flag("master", None, "ignored (TPU)", type=str),
    Flag("tpu_worker_name", None, "ignored (TPU)", type=str),
]


def make_parser(description):
    """The ``common.cli`` parser: every flag, ``--workdir`` (a synonym of ``--logdir``) and the device flags."""
    parser = cli.make_parser(FLAGS + LAUNCH_FLAGS, description, config_default=CONFIG_FILE + ":defaults")
    parser.add_argument("--workdir", dest="logdir", default=None,
                        help="checkpoints, exported module, results (the release's model_dir; = --logdir)")
    return parser


def parse_flags(script, argv=None):
    """``(args, cfg)`` of entry script ``script``: the parsed namespace (every flag, ``--workdir``, the launch and
    device flags) and the run's config (``FLAGS`` only), checked by ``check_config``."""
    if script not in SCRIPTS:
        raise ValueError("unknown script %r of revisiting; known: %s" % (script, ", ".join(SCRIPTS)))
    args = cli.resolve(make_parser(SCRIPTS[script]), FLAGS + LAUNCH_FLAGS, argv)
    if args.use_tpu:
        raise ValueError("--use_tpu: TPUs are not supported by this re-implementation; use --gpu 0,1,...")
    if args.num_gpus and args.gpu is None:
        args.gpu = ",".join(str(i) for i in range(args.num_gpus))
    cfg = {f.name: getattr(args, f.name) for f in FLAGS}
    check_config(cfg)
    if not args.logdir:
        raise ValueError("--workdir is required")
    if not cfg.get("dataset_dir"):
        raise ValueError("--dataset_dir is required (a TFRecord dir or an ImageNet-style image folder)")
    return args, cfg


def preprocessing_of(cfg):
    """The config's ``Preprocessing`` value: its ``preprocessing`` op string and the ops' parameters."""
    return Preprocessing(cfg["preprocessing"], **{k: cfg.get(k) for k in PARAMS})


def check_config(cfg):
    """One-line errors for settings that cannot run (before any graph is built)."""
    if cfg["task"] not in TASK_NAMES:
        raise ValueError("--task %r: expected one of %s" % (cfg["task"], ", ".join(TASK_NAMES)))
    for name in ("preprocessing", "batch_size", "epochs", "lr"):
        if cfg.get(name) in (None, ""):
            raise ValueError("--%s is required (or a --config that sets it)" % name)
    preprocess_fn(preprocessing_of(cfg), True)
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
