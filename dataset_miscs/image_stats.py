"""Dataset statistics as JSON: per-channel RGB mean/std (0-1 scale), image-size histograms, class counts.

    python dataset_miscs/image_stats.py --data DIR [--split train|validation] [--max-images N] [--out stats.json]

DIR is an ImageNet-style image folder (train/, val/) or a TFRecord dir of this project.
"""
import collections
import json
import os

import cv2
import numpy as np

from common import cli
from common.data.records import META_FILE, is_record_dir, list_shards, read_meta
from common.data.schema import example_fields
from common.tf1 import tf
from common.data.build import SPLIT_DIRS, list_image_folder

SIDE_BIN = 32  # pixels per bin of the height / width histograms


def iter_encoded(data, split):
    """``(class_names, iterator of (encoded bytes, label))`` over one split of an image folder or record dir."""
    if is_record_dir(data):
        names = read_meta(data).get("class_names") if os.path.exists(os.path.join(data, META_FILE)) else None

        def records():
            for shard in list_shards(data, split):
                for raw in tf.io.tf_record_iterator(shard):
                    rec = example_fields(raw)
                    yield rec["images"], rec["labels"]
        return names, records()
    classes, splits = list_image_folder(data, (split,))

    def files():
        for path, label, _ in splits[split]:
            with open(path, "rb") as fh:
                yield fh.read(), label
    return classes, files()


def image_stats(data, split="train", max_images=None):
    """Statistics dict of up to ``max_images`` images of ``split`` (undecodable ones are counted, not used)."""
    if split not in SPLIT_DIRS:
        raise ValueError("unknown split %r: expected one of %s" % (split, ", ".join(SPLIT_DIRS)))
    if not os.path.isdir(data):
        raise ValueError("data dir %s does not exist" % data)
    names, items = iter_encoded(data, split)
    total, total_sq, pixels, images, bad = np.zeros(3), np.zeros(3), 0, 0, 0
    sizes, heights, widths, classes = (collections.Counter() for _ in range(4))
    for encoded, label in items:
        if max_images is not None and images >= max_images:
            break
        img = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            bad += 1
            continue
        rgb = img[..., ::-1].reshape(-1, 3).astype(np.float64) / 255.0
        total += rgb.sum(0)
        total_sq += (rgb ** 2).sum(0)
        pixels += rgb.shape[0]
        images += 1
        h, w = img.shape[:2]
        sizes["%dx%d" % (w, h)] += 1
        heights[h // SIDE_BIN * SIDE_BIN] += 1
        widths[w // SIDE_BIN * SIDE_BIN] += 1
        classes[names[label] if names else str(label)] += 1
    if not images:
        raise ValueError("no decodable images in %s (split %s)" % (data, split))
    mean = total / pixels
    std = np.sqrt(np.maximum(total_sq / pixels - mean ** 2, 0.0))
    return {"data": os.path.abspath(data), "split": split, "images": images, "undecodable": bad,
            "mean": mean.round(6).tolist(), "std": std.round(6).tolist(),
            "sizes_wxh": dict(sizes.most_common()), "height_bins": {str(k): heights[k] for k in sorted(heights)},
            "width_bins": {str(k): widths[k] for k in sorted(widths)}, "bin_px": SIDE_BIN,
            "class_counts": dict(sorted(classes.items()))}


def main(argv=None):
    """Command line entry point."""
    p = cli.CliParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="image folder (train/, val/) or TFRecord dir")
    p.add_argument("--split", default="train", choices=sorted(SPLIT_DIRS))
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--out", default=None, help="JSON file (default: print)")
    args = p.parse_args(argv)
    def report():
        text = json.dumps(image_stats(args.data, args.split, args.max_images), indent=1)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text + "\n")
        else:
            print(text)
    return cli.exit_status(report)


if __name__ == "__main__":
    cli.run(main)
