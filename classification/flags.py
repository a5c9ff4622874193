"""The classification scripts' settings: one ``common.cli`` flag table of every config key (config-only unless a
script gives it a flag), each script's own arguments, and ``parse_flags(script, argv)``.

A key absent from the config stays None and is left out of ``cfg``, so ``classification.recipe`` sees which
recipe's keys a config holds; a key the table does not know is refused by ``common.cli``. ``predict`` reads no
config (its model and geometry come from the checkpoint's ``classifier.json``): its ``cfg`` is empty.
"""
from common import cli
from common.cli import Flag
from common.config import ConfigError
from classification.recipe import resolve_recipe

_CONFIG_ONLY = (
    ("sources", "where the config's values come from"), ("note", "free text"),
    ("model", "backbone of common/models"), ("width", "width factor of the backbone"),
    ("grouped", "AlexNet: grouped convolutions"), ("num_classes", "classes of the data"),
    ("image_size", "crop side in pixels"), ("resize_shorter", "evaluation: short side before the centre crop"),
    ("interpolation", "evaluation resize filter"), ("augment", "training augmentation: seed, fbresnet or alexnet"),
    ("aspect_jitter", "seed: long-side stretch range"), ("short_side", "seed: random short side range (inclusive)"),
    ("hue_jitter", "seed: hue shift in degrees"), ("saturation_jitter", "seed: saturation factor 1 +- this"),
    ("value_jitter", "seed: value factor 1 +- this"), ("lighting_std", "seed: PCA lighting alpha std"),
    ("mean_bgr", "seed: BGR mean (0-255)"), ("std_bgr", "seed: BGR std (0-255)"),
    ("eigval_bgr", "seed: PCA eigenvalues"), ("eigvec_bgr", "seed: PCA eigenvectors (BGR rows)"),
    ("crop_scale", "TensorPack: random-resized-crop area range"), ("mean", "TensorPack: RGB mean (fraction of 255)"),
    ("std", "TensorPack: RGB std (fraction of 255)"), ("lr_schedule", "cosine (the release) or step (TensorPack)"),
    ("warmup_epochs", "warm-up epochs"), ("warmup_lr", "cosine: first warm-up rate"),
    ("peak_lr", "cosine: rate after the warm-up"), ("cosine_alpha", "cosine: final rate / peak"),
    ("base_lr", "step: base rate"), ("lr_ref_batch", "step: batch of base_lr"),
    ("lr_decay_epochs", "step: decay after these epochs"), ("lr_decay", "step: decay factor"),
    ("momentum", "SGD momentum"), ("nesterov", "Nesterov momentum"), ("weight_decay", "L2 on kernels"),
    ("label_smoothing", "label smoothing epsilon"), ("val_batch", "validation batch"),
    ("workers", "validation decode threads"))

TRAIN_FLAGS = [Flag(name, None, text, flag=False) for name, text in _CONFIG_ONLY] + [
    Flag("data", None, "TFRecord dir or ImageNet-style folder", type=str),
    Flag("batch", None, "TOTAL training batch over all towers", type=int),
    Flag("epochs", None, "epochs (the release's recipe: cosine epochs after the warm-up)", type=int),
    Flag("reader", None, "training input pipeline", type=str, choices=("tfdata", "dali"))]

TEST_FLAGS = [f if f.name == "data" else f._replace(flag=False) for f in TRAIN_FLAGS]


SCRIPTS = {"train": "Train a supervised classifier (AlexNet, ZFNet-BN, ResNet v1/v2, SE-ResNet) on TFRecords",
           "test": "Test classifiers on a record split: 1 crop, 10 crops (and 11 views); checkpoints averaged",
           "predict": "Classify one image as the release's test_single_image.py: top classes and a bar chart"}


def _train_parser():
    parser = cli.make_parser(TRAIN_FLAGS, SCRIPTS["train"])
    parser.add_argument("--steps_per_epoch", type=int,
                        help="default: training images // total batch (+1 in the release's recipe)")
    parser.add_argument("--data_format", choices=["auto", "NHWC", "NCHW"], default="auto",
                        help="auto: NCHW on GPUs, NHWC on the CPU and for LRN AlexNet")
    return parser


def _checkpoints(parser):
    parser.add_argument("--checkpoint", action="append", required=True,
                        help="checkpoint prefix or log directory (repeat to average several models)")


def _test_parser():
    parser = cli.make_parser(TEST_FLAGS, SCRIPTS["test"])
    _checkpoints(parser)
    parser.add_argument("--batch", dest="eval_batch", type=int, default=32,
                        help="images per forward pass (x10 crops)")
    parser.add_argument("--limit", type=int, help="test only the first N images")
    parser.add_argument("--threads", type=int, default=2,
                        help="workers computing the views (processes with --seam-carve, threads otherwise)")
    parser.add_argument("--seam-carve", dest="seam_carve", action="store_true",
                        help="add the release's 11th view: the seam-carved mirrored image")
    parser.add_argument("--out", help="also write the results as JSON here")
    parser.add_argument("--classes", help="the models' output order: FILE (one class id a line) or 'sorted' (the "
                        "records' class ids sorted); required with a .h5 checkpoint")
    return parser


def _predict_parser():
    parser = cli.CliParser(description=SCRIPTS["predict"])
    parser.add_argument("image", metavar="IMAGE", help="image file (any format OpenCV reads)")
    _checkpoints(parser)
    parser.add_argument("--topk", type=int, help="number of classes to print (default: 10, at most the classes)")
    parser.add_argument("--seam-carve", dest="seam_carve", action="store_true",
                        help="add the seam-carved mirrored image as an 11th view (needs --crops 10)")
    parser.add_argument("--crops", type=int, choices=[1, 10], default=10, help="10 crops (default) or the centre")
    parser.add_argument("--out", help="PNG to write (default: <image name>_prediction.png here)")
    return parser


def _config(args, flags):
    """The config of a resolved namespace: keys with a value, checked by ``resolve_recipe``."""
    if not args.config:
        raise ConfigError("--config FILE.json:KEY is required (e.g. exp_configs/classification.json:toy)")
    cfg = {f.name: getattr(args, f.name) for f in flags if getattr(args, f.name) is not None}
    return resolve_recipe(cfg, args.config)


def parse_flags(script, argv=None):
    """``(args, cfg)`` of entry script ``script`` (a key of ``SCRIPTS``): ``args`` everything on its command line
    (explicit flag > ``--set`` > config), ``cfg`` the checked config (``{}`` for ``predict``)."""
    if script == "predict":
        return _predict_parser().parse_args(argv), {}
    tables = {"train": (_train_parser, TRAIN_FLAGS), "test": (_test_parser, TEST_FLAGS)}
    if script not in tables:
        raise ValueError("unknown script %r of classification; known: %s" % (script, ", ".join(SCRIPTS)))
    parser, flags = tables[script]
    args = cli.resolve(parser(), flags, argv)
    return args, _config(args, flags)
