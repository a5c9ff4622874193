"""The toy run of a paper made from the template: its release script's raw-pixel weighted kNN on the toy records
(replace it with the paper's training and evaluation). ``run(record_dir, work_dir)`` returns the rows of the
demo's table."""
import os
import time

from newpaper.knn import knn_top1

__all__ = ["run"]

PAPER = __name__.split(".")[0]
SIZE, K = 16, 20


def run(record_dir, work_dir):
    """kNN top-1 of the validation images against the training images; one row."""
    os.makedirs(work_dir, exist_ok=True)
    start = time.time()
    top1 = knn_top1(record_dir, SIZE, K)
    return [{"method": "%s (raw pixels, template)" % PAPER, "knn_top1": top1,
             "train_seconds": round(time.time() - start, 1), "notes": "%d px, k=%d" % (SIZE, K)}]
