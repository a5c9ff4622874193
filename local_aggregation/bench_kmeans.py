"""Time LA's per-epoch clustering: ``--runs`` faiss k-means runs of ``--k`` clusters on a random N x 128 bank.

    python -m local_aggregation.bench_kmeans                      # res18_LA: 10 x 30000 on 1,281,167 rows
    python -m local_aggregation.bench_kmeans --n 100000 --k 1000 --runs 1
"""
import time

import faiss
import numpy as np

from common import cli
from common.eval.report import markdown_row, markdown_table
from local_aggregation.clustering import run_kmeans


def main(argv=None):
    """Print one table row per run and the total: device, rows, k, seconds."""
    parser = cli.CliParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1281167, help="bank rows")
    parser.add_argument("--k", type=int, default=30000, help="clusters per run")
    parser.add_argument("--runs", type=int, default=10, help="k-means runs (seeds 1234 + r)")
    args = parser.parse_args(argv)
    bank = np.random.RandomState(0).randn(args.n, 128).astype(np.float32)
    bank /= np.linalg.norm(bank, axis=1, keepdims=True)
    device = "GPU (%d)" % faiss.get_num_gpus() if faiss.get_num_gpus() else "CPU"
    print(markdown_table(["run", "device", "rows", "k", "seconds"]))
    total = 0.0
    for run in range(args.runs):
        start = time.time()
        run_kmeans(bank, [args.k], seed=1234 + run)
        total += time.time() - start
        print(markdown_row([run, device, args.n, args.k, "%.2f" % (time.time() - start)]), flush=True)
    print(markdown_row(["all", device, args.n, "%d x %d" % (args.runs, args.k), "%.2f" % total]))


if __name__ == "__main__":
    cli.run(main)
