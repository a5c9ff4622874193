"""Instance discrimination on CIFAR-10 with the release's ``cifar.py`` command line.

    python instance_disc/cifar.py --data-dir DIR --nce-k 0 --nce-t 0.1 --lr 0.03      # full softmax
    python instance_disc/cifar.py --data-dir DIR --resume CKPT --test-only             # kNN, recomputed features

DIR holds the CIFAR-10 python batches (data_batch_1..5, test_batch), directly or in cifar-10-batches-py/;
nothing is downloaded. CIFAR ResNet-18, batch 128, weight decay 5e-4, 200 epochs (lr x0.1 from the release's
0-based epochs 120 and 160), weighted kNN (K=200, sigma=T) against the memory bank after every epoch and, at the
end, against train features recomputed with the test transform.
"""
from common import cli
from common.devices import setup_devices
from common.distributed import cluster_from_args
from instance_disc.cifar_batches import load_cifar10
from instance_disc.inputs import array_data
from instance_disc.options import CONFIG_FILE, FLAGS, check_against_data, config_of
from instance_disc.runner import evaluate, one_line_errors, print_results, train, train_logdir

__all__ = ["build_parser", "run", "main"]


def build_parser():
    """The release's cifar.py flags (defaults from exp_configs/instance_disc.json:cifar10) plus launch flags."""
    parser = cli.make_parser(FLAGS, __doc__, config_default=CONFIG_FILE + ":cifar10")
    parser.add_argument("--data-dir", default="data/cifar10", help="folder with the CIFAR-10 python batches")
    parser.add_argument("-r", "--resume", default="", help="checkpoint (or log directory) to resume or test")
    parser.add_argument("--test-only", action="store_true", help="only run kNN (K=200, recomputed features)")
    return parser


def run(args):
    """Train, or (``--test-only``) evaluate, on the CIFAR-10 batches of ``--data-dir``."""
    cfg = config_of(args)
    towers = setup_devices(args)
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
    """Parse ``argv`` and run; returns the kNN results. Bad input raises a one-line ``ValueError``."""
    return one_line_errors(run, cli.resolve(build_parser(), FLAGS, argv))


if __name__ == "__main__":
    cli.run(lambda argv: main(argv) and 0)  # main returns the results; the exit status is 0
