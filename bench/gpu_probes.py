"""The GPU check's measuring rows, one per process: a training step, an input reader, kNN, one k-means.

    python -m bench.gpu_probes step --step classify --model resnet50 --batch 256 --image-size 224 [--amp --xla]
    python -m bench.gpu_probes input --data RECORDS --reader dali --device gpu --batch 256 --images 5000
    python -m bench.gpu_probes knn --bank 1281167 --queries 50000 --k 200
    python -m bench.gpu_probes kmeans --bank 1281167 --k 30000

Each prints its result as the last stdout line, ``GPU_CHECK_RESULT {"value": ..., "unit": ...}``.
"""
import argparse
import contextlib
import json
import sys
import time

import numpy as np

from common import cli

RESULT_PREFIX = "GPU_CHECK_RESULT "
WARMUP_BATCHES = 3


def probe_step(argv):
    """images/s of one ``bench.step`` configuration; ``argv``: bench.step flags plus ``--amp`` / ``--xla``."""
    from bench import step
    args = step.parse_args(argv)
    if args.data_format == "auto":
        args.data_format = "NHWC"
    seconds = step.time_step(args, args.amp, args.xla)
    return args.batch / seconds, "img/s"


def probe_input(argv):
    """images/s of a reader with the training augmentation (random resized crop, flip, colour jitter)."""
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--reader", default="tfdata")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--images", type=int, default=5000, help="images in the timed window")
    args = p.parse_args(argv)
    from common.data.augment import AugmentConfig
    from common.data.input import make_dataset
    from common.tf1 import tf
    cfg = AugmentConfig(size=args.size, crop="random_resized", flip=True, color_jitter=(0.4, 0.4, 0.4, 0.4),
                        grayscale_prob=0.2)
    steps = max(1, args.images // args.batch)
    with tf.Graph().as_default():
        data = make_dataset(args.data, "train", args.batch, cfg, reader=args.reader, shuffle=True, repeat=True,
                            seed=0, device=args.device)
        device = getattr(data, "iterator_device", None)  # DALI on a GPU wants its iterator there
        with tf.device(device) if device else contextlib.nullcontext():
            iterator = tf.data.make_initializable_iterator(data)
            consume = tf.reduce_mean(iterator.get_next()[0])  # on the images' device: no copy to the host
        config = tf.ConfigProto(allow_soft_placement=True)
        config.gpu_options.allow_growth = True  # leave GPU memory to DALI
        with tf.Session(config=config) as sess:
            sess.run(iterator.initializer)
            for _ in range(WARMUP_BATCHES):
                sess.run(consume)
            start = time.perf_counter()
            for _ in range(steps):
                sess.run(consume)
            rate = steps * args.batch / (time.perf_counter() - start)
        return rate, "img/s"


def _unit_rows(n, dim, seed):
    rows = np.random.RandomState(seed).standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def probe_knn(argv):
    """Seconds of a weighted kNN (``common.eval.knn``, TF backend) of ``--queries`` against a ``--bank`` bank."""
    p = argparse.ArgumentParser()
    p.add_argument("--bank", type=int, default=1281167)
    p.add_argument("--queries", type=int, default=50000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--k", type=int, default=200)
    args = p.parse_args(argv)
    from common.eval.knn import knn_predict
    bank, queries = _unit_rows(args.bank, args.dim, 0), _unit_rows(args.queries, args.dim, 1)
    labels = np.random.RandomState(2).randint(0, 1000, args.bank)
    start = time.perf_counter()
    knn_predict(bank, labels, queries, 1000, k=args.k, t=0.07, backend="tf")
    return time.perf_counter() - start, "s"


def probe_kmeans(argv):
    """Seconds of one k-means run as Local Aggregation's (faiss, 20 iterations) of ``--k`` centroids on a
    ``--bank`` bank."""
    p = argparse.ArgumentParser()
    p.add_argument("--bank", type=int, default=1281167)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--k", type=int, default=30000)
    args = p.parse_args(argv)
    from common.kmeans import faiss_kmeans
    bank = _unit_rows(args.bank, args.dim, 0)
    start = time.perf_counter()
    faiss_kmeans(bank, args.k, 20, seed=1234, max_points_per_centroid=10000000)
    return time.perf_counter() - start, "s"


PROBES = {"step": probe_step, "input": probe_input, "knn": probe_knn, "kmeans": probe_kmeans}


def main(argv=None):
    """``KIND FLAGS...``: run one probe and print its ``GPU_CHECK_RESULT`` line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return cli.exit_status(lambda: _probe(argv))


def _probe(argv):
    if not argv or argv[0] not in PROBES:
        raise ValueError("first argument must be one of %s" % ", ".join(PROBES))
    value, unit = PROBES[argv[0]](argv[1:])
    print(RESULT_PREFIX + json.dumps({"value": value, "unit": unit}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
