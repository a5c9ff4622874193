"""Benchmark of weighted kNN (common.eval.knn): queries per second against a 1.28M x 128 bank.

    python -m bench.knn [--bank-size 1281167] [--dim 128] [--queries 2000] [--backends numpy,faiss,tf]

Random unit-norm bank and queries (seeded). Prints one table row per backend; the last column is
the time 50,000 queries (the ImageNet validation set) would take at that rate.
"""
import argparse
import sys
import time

import numpy as np

from common import cli
from common.eval.knn import BACKENDS, knn_predict
from common.eval.report import markdown_row, markdown_table


def _unit_rows(rng, n, d, chunk=262144):
    out = np.empty((n, d), np.float32)
    for s in range(0, n, chunk):
        x = rng.standard_normal((min(chunk, n - s), d), dtype=np.float32)
        out[s:s + len(x)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def main(argv=None):
    """Parse flags, time each backend, print the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bank-size", type=int, default=1281167)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--k", type=int, default=200)
    p.add_argument("--t", type=float, default=0.07)
    p.add_argument("--query-chunk", type=int, default=1024)
    p.add_argument("--bank-chunk", type=int, default=65536)
    p.add_argument("--backends", default="numpy,faiss,tf")
    args = p.parse_args(argv)
    backends = args.backends.split(",")
    bad = [b for b in backends if b not in BACKENDS]
    return cli.exit_status(lambda: _run(args, backends, bad))


def _run(args, backends, bad):
    """Time each backend; one table row each (ValueError for bad flags)."""
    if bad or min(args.bank_size, args.dim, args.queries, args.k) < 1:
        raise ValueError("--backends must be from %s and sizes positive (got %s)" % (",".join(BACKENDS), args.backends))
    rng = np.random.default_rng(0)
    bank = _unit_rows(rng, args.bank_size, args.dim)
    labels = rng.integers(0, args.classes, args.bank_size)
    queries = _unit_rows(rng, args.queries, args.dim)
    print(markdown_table(["backend", "bank", "queries", "k", "seconds", "queries/s", "est. 50k queries (s)"]))
    for backend in backends:
        start = time.perf_counter()
        knn_predict(bank, labels, queries, args.classes, k=args.k, t=args.t, query_chunk=args.query_chunk,
                    bank_chunk=args.bank_chunk, backend=backend)
        sec = time.perf_counter() - start
        qps = args.queries / sec
        print(markdown_row([backend, "%d x %d" % (args.bank_size, args.dim), args.queries, args.k, "%.2f" % sec,
                            "%.0f" % qps, "%.1f" % (50000 / qps)]), flush=True)


if __name__ == "__main__":
    sys.exit(main())
