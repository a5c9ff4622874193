"""Every setting of Local Aggregation: the release's flag tables (``param_setter.py``, ``trans_param_setter.py``)
and ``knn_eval``'s as ``common.cli`` flags, and ``parse_flags(script, argv)`` of each entry script.

Precedence (the release's ``param_setter.py``): command-line value > ``--config FILE.json:KEY`` value > the
flag's default. A config key that is not a flag of the script is an error listing the valid ones. The device
flags (``--gpu``, ``--cpu_towers``, ``--logical_gpus``, ``--trainer``) and ``--logdir`` come from
``common.cli``; ``--gpu_offset k`` drops the first k ids of ``--gpu`` (the release's multi-GPU launcher).
``knn_eval`` takes a positional CHECKPOINT and no device flags.
"""
from common import cli
from common.distributed import cluster_from_args
from common.cli import Flag
from common.config import ConfigError

__all__ = ["SCRIPTS", "PRETRAIN_FLAGS", "TRANSFER_FLAGS", "KNN_FLAGS", "parse_flags", "parse_int_list"]

SCRIPTS = {
    "train": "Instance Recognition / Local Aggregation pretraining, the release's train.py",
    "train_transfer": "Linear transfer of an LA checkpoint to ImageNet or Places205, the release's "
                      "train_transfer.py",
    "knn_eval": "The release's kNN validation of an LA checkpoint against the bank and labels stored in it",
}

_COMMON_FLAGS = [
    Flag("image_dir", None, "TFRecord directory (or an ImageNet-style JPEG folder, built once)", type=str,
         required=True),
    Flag("cache_dir", None, "save root: checkpoints go to CACHE_DIR/models/<db>/<col>/<exp_id> (default: --logdir)",
         type=str),
    Flag("batch_size", 128, "global batch, split evenly over the towers"),
    Flag("test_batch_size", 64, "validation batch"),
    Flag("weight_decay", 1e-4, "L2 coefficient"),
    Flag("lr_boundaries", None, "comma-separated absolute global steps; LR x0.1 after each", type=str),
    Flag("train_num_steps", None, "last global step (none: run until stopped)", type=int),
    Flag("model_type", "resnet18", "resnet18, resnet50, alexnet_bn_no_drop or vggnet_fx"),
    Flag("fre_valid", 10009, "validation period in steps"),
    Flag("fre_filter", 10009, "checkpoint period when fre_cache_filter is unset"),
    Flag("fre_cache_filter", None, "checkpoint period in steps", type=int),
    Flag("load_exp", None, "db/col/exp_id whose checkpoint initialises this run", type=str),
    Flag("load_step", None, "step of the load_exp checkpoint (none: latest)", type=int),
    Flag("image_size", 224, "crop size fed to the network (the release: 224)"),
    Flag("width", 1.0, "backbone width factor (the release: 1)"),
    Flag("reader", "tfdata", "input pipeline", choices=("tfdata", "dali")),
]

PRETRAIN_FLAGS = [
    Flag("exp_id", None, "experiment name", type=str, required=True),
    Flag("init_lr", 0.03, "initial learning rate"),
    Flag("gpu_offset", 0, "the first tower uses the id at this position of --gpu"),
    Flag("data_len", 1281167, "training images = memory bank rows (0: read from the records' meta.json)"),
    Flag("instance_t", 0.07, "softmax temperature"),
    Flag("instance_k", 4096, "IR: noise samples; LA: background neighbours"),
    Flag("kmeans_k", "10000", "comma-separated k, one k-means run each (LA)"),
    Flag("task", "LA", "IR or LA", choices=("IR", "LA")),
    Flag("db_name", "la_pub", "first part of the save path"),
    Flag("col_name", "test", "second part of the save path"),
    Flag("knn_k", 200, "K of the extra weighted kNN metric"),
    Flag("bn_momentum", 0.997, "BN moving-average momentum of the ResNets (the release: 0.997)"),
] + _COMMON_FLAGS

TRANSFER_FLAGS = [
    Flag("save_exp", None, "db/col/exp_id of this transfer run", type=str, required=True),
    Flag("init_lr", 0.01, "initial learning rate"),
    Flag("ten_crop", False, "10-crop validation"),
    Flag("resume", False, "continue the latest checkpoint of save_exp instead of loading load_exp"),
    Flag("load_checkpoint", None, "initialise from this checkpoint instead of load_exp: a `python -m zoo convert "
                                  "la` directory, the release's checkpoint-1901710.tar (or its prefix; converted "
                                  "into the save_exp directory) or a model-<step>", type=str),
    Flag("get_all_layers", None, "comma list of layers to read out (ending-point indices or names)", type=str),
    Flag("train_crop", "default", "training crop",
         choices=("default", "resnet_crop_flip", "alexnet_crop_flip", "validate_crop")),
    Flag("num_classes", 1000, "classes of the target dataset (1000 ImageNet, 205 Places205)"),
    Flag("vgg_quirk", False, "pool VGG features over width and channels as the release did"),
    Flag("head_bn", False, "standardise each read-out feature (BatchNorm without scale/offset) before its head; "
                           "not in the release, used by the toy read-out"),
] + _COMMON_FLAGS


KNN_FLAGS = [
    Flag("image_dir", None, "TFRecords (or an ImageNet-style JPEG folder)", type=str, required=True),
    Flag("knn_k", 200, "neighbours of the weighted kNN"),
    Flag("knn_t", 0.07, "temperature of the weighted kNN"),
    Flag("model_type", "resnet18", "resnet18 (the release's) or resnet50"),
    Flag("batch_size", 64, "validation batch"),
]

_TABLES = {"train": PRETRAIN_FLAGS, "train_transfer": TRANSFER_FLAGS, "knn_eval": KNN_FLAGS}


def parse_flags(script, argv=None):
    """``(args, cfg)`` of entry script ``script`` (a key of ``SCRIPTS``): ``args`` the Namespace of its command
    line, ``cfg`` ``{flag name: value}`` of its table (``ConfigError`` on bad input). For the training scripts
    ``--cache_dir`` defaults to ``--logdir``, ``--gpu_offset`` is applied to ``--gpu`` and cluster flags are
    refused (one machine)."""
    if script not in SCRIPTS:
        raise ValueError("unknown script %r of local_aggregation; known: %s" % (script, ", ".join(SCRIPTS)))
    flags = _TABLES[script]
    parser = cli.make_parser(flags, SCRIPTS[script], devices=script != "knn_eval")
    if script == "knn_eval":
        parser.add_argument("checkpoint", help="zoo-converted directory, the release's .tar / prefix, or model-<step>")
        args = cli.resolve(parser, flags, argv)
    else:
        args = _training_args(cli.resolve(parser, flags, argv))
    return args, {f.name: getattr(args, f.name) for f in flags}


def _training_args(args):
    """``args`` of a training script with ``--cache_dir`` and ``--gpu_offset`` applied, one machine checked."""
    args.cache_dir = args.cache_dir or args.logdir
    if not args.cache_dir:
        raise ConfigError("--cache_dir is required (on the command line, as a config key, or --logdir)")
    if cluster_from_args(args) is not None:
        raise ConfigError("--job_name/--ps_hosts/--worker_hosts (or TF_CONFIG): the Local Aggregation scripts train "
                          "on one machine (one shared memory bank); drop the cluster flags")
    offset = getattr(args, "gpu_offset", 0)
    if offset:
        ids = [g for g in (args.gpu or "").split(",") if g.strip()]
        if offset < 0 or offset >= len(ids):
            raise ConfigError("--gpu_offset %d leaves no id of --gpu %r to train on" % (offset, args.gpu))
        args.gpu = ",".join(ids[offset:])
    return args


def parse_int_list(text, name):
    """``"1,2"`` -> ``[1, 2]`` (``None``/empty -> ``[]``); a bad entry is an error naming flag ``name``."""
    if not text:
        return []
    try:
        return [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise ValueError("%s %r: expected comma-separated integers" % (name, text))
