"""Instance discrimination on ImageNet-style data, with the release's command line (lemniscate ``main.py``).

    python instance_disc/main.py DATA --arch resnet18 --nce-k 4096 --nce-t 0.07 --nce-m 0.5 --low-dim 128 \
        --lr 0.03 -b 256 --epochs 200 [--gpu 0,1,2,3]
    python instance_disc/main.py DATA --arch resnet18 --resume CKPT -e        # weighted kNN (K=200) only
    python instance_disc/main.py DATA -a resnet50 --resume lemniscate_resnet50.pth.tar -e    # the release's file

DATA is a TFRecord directory (dataset_miscs/build_tfrs.py) or an ImageNet-style JPEG folder (built into
records once). ``--nce-k 0``: full softmax; ``--loss softmax_ce --nce-k 65536``: the updated model.
"""
import tempfile

from common import cli
from common.data.records import ensure_records, find_corrupt_shard, list_shards, read_meta
from common.devices import setup_devices
from common.tf1 import tf
from instance_disc.inputs import record_data
from instance_disc.options import CONFIG_FILE, FLAGS, check_against_data, config_of
from instance_disc.release_eval import is_release_checkpoint, records_checkpoint
from instance_disc.runner import one_line_errors, run_or_evaluate

__all__ = ["build_parser", "run", "main"]


def build_parser():
    """The release's flags (defaults from exp_configs/instance_disc.json) plus the project's launch flags."""
    parser = cli.make_parser(FLAGS, __doc__, config_default=CONFIG_FILE + ":imagenet_resnet18")
    parser.add_argument("data", metavar="DIR", help="TFRecord directory or ImageNet-style folder (train/, val/)")
    parser.add_argument("-e", "--evaluate", action="store_true", help="only run weighted kNN (K=200) and exit")
    parser.add_argument("--resume", default="", help="checkpoint (or log directory) to resume or evaluate")
    parser.add_argument("--recompute-memory", action="store_true",
                        help="kNN also against train features recomputed with the test transform")
    parser.add_argument("--start-epoch", type=int, help="unsupported: the epoch comes from the checkpoint")
    parser.add_argument("--pretrained", action="store_true", help="unsupported: supervised weights do not fit")
    parser.add_argument("--test-only", action="store_true", help="unsupported: the release's main.py ignores it")
    parser.add_argument("--iter_size", type=int, default=1, help="unsupported above 1 (gradient accumulation)")
    parser.add_argument("--world-size", type=int, default=1,
                        help="PyTorch distributed; use the cluster flags (--worker_hosts ...) instead")
    parser.add_argument("--dist-url", help="PyTorch distributed; use the cluster flags instead")
    parser.add_argument("--dist-backend", help="PyTorch distributed; use the cluster flags instead")
    return parser


def _check_unsupported(args):
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


def run(args):
    """Train or (``-e``) evaluate as the flags say; returns the kNN results dict. A shard that cannot be read
    (truncated or garbled) is one ``ValueError`` line naming it."""
    _check_unsupported(args)
    cfg = config_of(args)
    towers = setup_devices(args)
    record_dir = ensure_records(args.data)
    try:
        return _run(args, cfg, towers, record_dir)
    except tf.errors.DataLossError as e:
        found = find_corrupt_shard(list_shards(record_dir, "train") + list_shards(record_dir, "validation"))
        if found is None:
            raise
        raise ValueError("TFRecord shard %s is corrupt (%s); rebuild the records" % found) from e


def _run(args, cfg, towers, record_dir):
    meta = read_meta(record_dir)
    data = record_data(cfg, record_dir, meta, device="cpu" if towers.on_cpu else "gpu")
    if args.resume and is_release_checkpoint(args.resume):
        return _evaluate_release(args, cfg, towers, data, record_dir, meta)
    checkpoint = check_against_data(cfg, data.n_train, args.data, args.resume, training=not args.evaluate)
    return run_or_evaluate(cfg, data, args, towers, checkpoint, args.evaluate, args.recompute_memory, "-e")


def _evaluate_release(args, cfg, towers, data, record_dir, meta):
    """``-e`` of the release's own checkpoint (``instance_disc/release_eval.py``): its stored bank, reordered."""
    if not args.evaluate:
        raise ValueError("--resume %s: a release checkpoint is evaluated with -e; to train from it, convert it "
                         "first (python -m zoo convert lemniscate ...)" % args.resume)
    with tempfile.TemporaryDirectory(prefix="lemniscate-") as work:
        checkpoint = records_checkpoint(args.resume, cfg, args.data, record_dir, meta, work)
        return run_or_evaluate(cfg, data, args, towers, checkpoint, True, args.recompute_memory, "-e")


def main(argv=None):
    """Parse ``argv`` and run; returns the kNN results. Bad input raises a one-line ``ValueError``."""
    return one_line_errors(run, cli.resolve(build_parser(), FLAGS, argv))


if __name__ == "__main__":
    cli.run(lambda argv: main(argv) and 0)  # main returns the results; the exit status is 0
