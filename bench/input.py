"""Input pipeline benchmark: images/s of raw OpenCV JPEG decode vs the tf.data and DALI readers, as a table.

    python -m bench.input --data data/toy/records [--images 3000 --batch 64 --size S --threads N]

``--data`` may also be an image folder (built into records once). Reader rows: "decode" (uint8, no crop when
all sampled images share one size, else centre crop to ``--size``) and "train" (random resized crop, flip,
colour jitter, grayscale, normalise). Raw decode splits the images over ``--threads`` threads (default: all
cores), each looping over its share.
"""
import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from common import cli
from common.data.augment import AugmentConfig
from common.data.input import READERS, make_dataset
from common.data.records import ensure_records, list_shards
from common.data.schema import example_fields
from common.eval.report import markdown_table
from common.tf1 import tf

WARMUP_BATCHES = 3
DEFAULT_SIZE = 224


def load_encoded(record_dir, split, count):
    """Up to ``count`` encoded images of ``split``, in stored order."""
    out = []
    for shard in list_shards(record_dir, split):
        for raw in tf.io.tf_record_iterator(shard):
            out.append(example_fields(raw)["images"])
            if len(out) == count:
                return out
    return out


def opencv_decode_rate(encoded, threads, repeats):
    """Best images/s of ``cv2.imdecode`` over ``encoded``, one contiguous chunk per thread; also the shapes."""
    def decode(chunk):
        return [cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR).shape for buf in chunk]

    chunks = [encoded[k::threads] for k in range(threads)]
    best = 0.0
    with ThreadPoolExecutor(threads) as pool:
        decode(encoded[:64])
        for _ in range(repeats):
            start = time.perf_counter()
            shapes = [shape for part in pool.map(decode, chunks) for shape in part]
            best = max(best, len(encoded) / (time.perf_counter() - start))
    return best, shapes


def reader_rate(record_dir, split, reader, cfg, batch, images, repeats):
    """Best images/s of ``make_dataset`` over windows of ``images`` images (after warm-up), repeating the split."""
    steps = max(1, images // batch)
    with tf.Graph().as_default():
        it = tf.data.make_initializable_iterator(make_dataset(record_dir, split, batch, cfg, reader=reader,
                                                              shuffle=True, repeat=True, seed=0))
        nxt = it.get_next()[0]
        with tf.Session() as sess:
            sess.run(it.initializer)
            for _ in range(WARMUP_BATCHES):
                sess.run(nxt)
            best = 0.0
            for _ in range(repeats):
                start = time.perf_counter()
                for _ in range(steps):
                    sess.run(nxt)
                best = max(best, steps * batch / (time.perf_counter() - start))
    return best


def main(argv=None):
    """Command line entry point: print the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="TFRecord dir (or image folder with train/ and val/)")
    p.add_argument("--split", default="train", choices=["train", "validation"])
    p.add_argument("--images", type=int, default=3000, help="images per timed window")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=None,
                   help="crop size (default: the images' size when they all share one, else 224)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads of the raw OpenCV decode")
    p.add_argument("--repeats", type=int, default=3, help="timed windows per row, the best is reported")
    p.add_argument("--readers", default=",".join(READERS), help="comma-separated subset of %s" % ", ".join(READERS))
    return cli.exit_status(lambda: _run(p.parse_args(argv)))


def _run(args):
    """Time the raw decode and each reader; print the table (ValueError for bad flags or data)."""
    record_dir = ensure_records(args.data)
    readers = args.readers.split(",")
    unknown = sorted(set(readers) - set(READERS))
    if unknown:
        raise ValueError("unknown reader(s) %s: expected %s" % (", ".join(unknown), ", ".join(READERS)))
    encoded = load_encoded(record_dir, args.split, args.images)
    raw, shapes = opencv_decode_rate(encoded, args.threads, args.repeats)
    same = len(set(shapes)) == 1
    size = args.size or (shapes[0][0] if same else DEFAULT_SIZE)
    decode_cfg = AugmentConfig(size=size, crop="none" if same else "center", normalize=False)
    train_cfg = AugmentConfig(size=size, crop="random_resized", flip=True, color_jitter=(0.4, 0.4, 0.4, 0.4),
                              grayscale_prob=0.2)
    rows = [("opencv imdecode (%d threads)" % args.threads, "decode", raw)]
    for reader in readers:
        for name, cfg in (("decode" if same else "decode+center crop", decode_cfg), ("train aug", train_cfg)):
            rows.append((reader, name, reader_rate(record_dir, args.split, reader, cfg, args.batch, len(encoded),
                                                    args.repeats)))
    print("\n%d images of %s (%s), batch %d, %d CPU cores\n" % (len(encoded), record_dir, args.split, args.batch,
                                                              os.cpu_count()))
    print(markdown_table(["pipeline", "work", "images/s", "raw / this"],
                         [[name, work, "%.0f" % rate, "%.2f" % (raw / rate)] for name, work, rate in rows]))
    best = max(rate for _, work, rate in rows[1:] if work != "train aug")
    print("\nraw decode / fastest reader (decode) = %.2f (target <= 1.5)" % (raw / best))


if __name__ == "__main__":
    sys.exit(main())
