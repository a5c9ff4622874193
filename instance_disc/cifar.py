"""Instance discrimination on CIFAR-10 with the release's ``cifar.py`` command line.

    python instance_disc/cifar.py --data-dir DIR --nce-k 0 --nce-t 0.1 --lr 0.03      # full softmax
    python instance_disc/cifar.py --data-dir DIR --resume CKPT --test-only             # kNN, recomputed features

DIR holds the CIFAR-10 python batches (data_batch_1..5, test_batch), directly or in cifar-10-batches-py/;
nothing is downloaded. CIFAR ResNet-18, batch 128, weight decay 5e-4, 200 epochs (lr x0.1 at 120 and 160),
weighted kNN (K=200, sigma=T) against the memory bank after every epoch and, at the end, against train
features recomputed with the test transform.
"""
import argparse

from common.distributed import cluster_from_args
from common.train import add_train_args, setup_devices
from instance_disc.cifar_batches import load_cifar10
from instance_disc.inputs import array_data
from instance_disc.options import add_instance_args, check_against_data, resolve_config
from instance_disc.runner import evaluate, print_results, run_cli, train, train_logdir


def build_parser():
    """The release's cifar.py flags (defaults from exp_configs/instance_disc.json:cifar10) plus launch flags."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="data/cifar10", help="folder with the CIFAR-10 python batches")
    parser.add_argument("-r", "--resume", default="", help="checkpoint (or log directory) to resume or test")
    parser.add_argument("--test-only", action="store_true", help="only run kNN (K=200, recomputed features)")
    add_instance_args(parser, "cifar10")
    add_train_args(parser)
    return parser


def run(args):
    """Train, or (``--test-only``) evaluate, on the CIFAR-10 batches of ``--data-dir``."""
    towers = setup_devices(args)
    cfg = resolve_config(args)
    data = array_data(cfg, args.data_dir, *load_cifar10(args.data_dir))
    checkpoint = check_against_data(cfg, data.n_train, args.data_dir, args.resume,
                                    training=not args.test_only)
    if args.test_only:
        if not checkpoint:
            raise ValueError("--test-only needs --resume CKPT (the model to evaluate)")
        results = evaluate(cfg, data, checkpoint, recompute=True)
        print_results(results, args.logdir)
        return results
    logdir = train_logdir(args, checkpoint)
    results = train(cfg, data, logdir, towers, trainer=args.trainer, cluster=cluster_from_args(args),
                    epoch_k=cfg["knn_k"], recompute=True)
    print_results(results)
    return results


def main(argv=None):
    """Entry point: parse ``argv`` and run; bad input is one ``error:`` line and exit status 2."""
    return run_cli(run, build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
