"""Time the release's seam-carved 11th view (``mirrored_seam_view`` of a 256 x 341 image) in ``test.py``'s worker
pools: serial, ``--workers`` threads, ``--workers`` processes.

    python -m classification.bench_seam [--images 8] [--workers 2]
"""
import time

import cv2
import numpy as np

from classification.eval_data import view_workers
from classification.seam_carving import mirrored_seam_view
from common import cli
from common.eval.report import markdown_row, markdown_table


def seam_view(seed):
    """The seam view of a smooth random 256 x 341 image (``seed``)."""
    image = np.random.RandomState(seed).randint(0, 256, (256, 341, 3)).astype(np.uint8)
    return mirrored_seam_view(cv2.GaussianBlur(image, (7, 7), 2), 224)


def main(argv=None):
    """Print one row per pool: mode, workers, seconds, images/s."""
    parser = cli.CliParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=8, help="views to compute per row")
    parser.add_argument("--workers", type=int, default=2, help="threads or processes")
    args = parser.parse_args(argv)
    print(markdown_table(["pool", "workers", "seconds", "images/s"]))
    rows = [("serial", 1, None), ("threads", args.workers, view_workers(args.workers, seam_carve=False)),
            ("processes", args.workers, view_workers(args.workers, seam_carve=True))]
    for name, workers, pool in rows:
        run = map if pool is None else pool.map
        if pool is not None:
            list(pool.map(seam_view, range(workers)))  # start the workers first
        start = time.time()
        list(run(seam_view, range(args.images)))
        seconds = time.time() - start
        print(markdown_row([name, workers, "%.2f" % seconds, "%.1f" % (args.images / seconds)]), flush=True)
        if pool is not None:
            pool.shutdown()
    return 0


if __name__ == "__main__":
    cli.run(main)
