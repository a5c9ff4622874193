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
from instance_disc.flags import check_against_data, parse_flags, record_input
from instance_disc.inputs import record_data
from instance_disc.release_eval import is_release_checkpoint, records_checkpoint
from instance_disc.runner import one_line_errors, run_or_evaluate

__all__ = ["run", "main"]


def run(args, cfg):
    """Train or (``-e``) evaluate as ``parse_flags("main", ...)`` says; returns the kNN results dict. A shard that
    cannot be read (truncated or garbled) is one ``ValueError`` line naming it."""
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
    data = record_data(record_dir, meta, record_input(cfg), device="cpu" if towers.on_cpu else "gpu")
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
    """Train or evaluate as ``argv`` says (``run`` returns the results). Bad input raises a one-line ``ValueError``."""
    args, cfg = parse_flags("main", argv)
    one_line_errors(run, args, cfg)


if __name__ == "__main__":
    cli.run(main)
