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
from instance_disc.cifar_batches import load_cifar10
from instance_disc.flags import check_against_data, parse_flags
from instance_disc.inputs import array_data
from instance_disc.runner import one_line_errors, run_or_evaluate

__all__ = ["run", "main"]


def run(args, cfg):
    """Train, or (``--test-only``) evaluate, on the CIFAR-10 batches of ``--data-dir``; returns the kNN results."""
    towers = setup_devices(args)
    data = array_data(args.data_dir, *load_cifar10(args.data_dir), crop_scale=cfg["crop_scale"],
                      val_batch_size=cfg["val_batch_size"])
    checkpoint = check_against_data(cfg, data.n_train, args.data_dir, args.resume, training=not args.test_only)
    return run_or_evaluate(cfg, data, args, towers, checkpoint, args.test_only, True, "--test-only",
                           epoch_k=cfg["knn_k"])


def main(argv=None):
    """Train or test as ``argv`` says (``run`` returns the results). Bad input raises a one-line ``ValueError``."""
    args, cfg = parse_flags("cifar", argv)
    one_line_errors(run, args, cfg)


if __name__ == "__main__":
    cli.run(main)
