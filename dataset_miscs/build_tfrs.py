"""Build TFRecord shards from an ImageNet-style folder (``train/<class>/*``, ``val/<class>/*``), as in the LA release.

    python dataset_miscs/build_tfrs.py --save_dir OUT --img_folder IN [--random_seed 0]
        [--train_shards N --val_shards M --workers W]

Labels are the positions of the sorted train class directories; files are sorted within a class; the train
list is permuted with ``--random_seed``, validation stays in order. Writes ``train-%05d-of-%05d``,
``validation-%05d-of-%05d``, DALI index files in ``idx/``, ``labels.txt`` and ``meta.json``.
"""
import argparse
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common.data.fsutil import ensure_writable_dir  # noqa: E402
from common.data.records import LABELS_FILE, write_meta  # noqa: E402
from common.data.writer import build_split  # noqa: E402
from dataset_miscs.make_toy_dataset import CLASS_NAMES_FILE  # noqa: E402

SPLIT_DIRS = {"train": "train", "validation": "val"}
IMAGENET_SHARDS = {"train": 1024, "validation": 128}
MIN_PER_SHARD = 500


def default_shards(count, split):
    """ImageNet's 1024 / 128 shards for ImageNet-sized splits, else about one shard per 500 images."""
    cap = IMAGENET_SHARDS[split]
    return cap if count >= cap * 300 else max(1, count // MIN_PER_SHARD)


def _class_dirs(root):
    return sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith("."))


def list_image_folder(img_folder, splits=tuple(SPLIT_DIRS)):
    """``(class_dirs, {split: [(path, label, filename)]})`` for an ImageNet-style folder; one-line errors.

    Classes are the sorted directories of ``train/``; ``splits`` picks which of train / validation to list.
    """
    if not os.path.isdir(img_folder):
        raise ValueError("image folder %s does not exist" % img_folder)
    for sub in ["train"] + [SPLIT_DIRS[s] for s in splits]:
        if not os.path.isdir(os.path.join(img_folder, sub)):
            raise ValueError("image folder %s has no %s/ sub-folder" % (img_folder, sub))
    classes = _class_dirs(os.path.join(img_folder, "train"))
    listed = {}
    for split in splits:
        root = os.path.join(img_folder, SPLIT_DIRS[split])
        dirs = _class_dirs(root)
        unknown = sorted(set(dirs) - set(classes))
        if unknown:
            raise ValueError("%s has class folders not in train/: %s" % (root, ", ".join(unknown[:5])))
        entries = []
        for d in dirs:
            names = sorted(f for f in os.listdir(os.path.join(root, d)) if not f.startswith("."))
            entries += [(os.path.join(root, d, f), classes.index(d), d + "/" + f) for f in names
                        if os.path.isfile(os.path.join(root, d, f))]
        if not entries:
            raise ValueError("no image files in %s (expected %s/<class>/<image>)" % (root, root))
        listed[split] = entries
    return classes, listed


def _class_names(img_folder, classes):
    path = os.path.join(img_folder, CLASS_NAMES_FILE)
    if not os.path.exists(path):
        return classes
    with open(path) as f:
        names = dict(line.split(None, 1) for line in f if line.strip())
    return [names.get(c, c).strip() for c in classes]


def build_tfrecords(img_folder, save_dir, random_seed=0, train_shards=None, val_shards=None, workers=None,
                    log=print):
    """Build both splits of ``img_folder`` into ``save_dir`` (finished shards are kept); return ``save_dir``."""
    classes, splits = list_image_folder(img_folder)
    ensure_writable_dir(save_dir, "save dir")
    with open(os.path.join(save_dir, LABELS_FILE), "w") as f:
        f.writelines("%s %d\n" % (c, k) for k, c in enumerate(classes))
    shards = {"train": train_shards, "validation": val_shards}
    counts = {}
    for split, entries in splits.items():
        num = shards[split] or default_shards(len(entries), split)
        seed = random_seed if split == "train" else None
        counts[split] = build_split(entries, save_dir, split, num, seed, workers, log=log)["count"]
    write_meta(save_dir, counts, _class_names(img_folder, classes), img_folder)
    return save_dir


def main(argv=None):
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--save_dir", required=True, help="output directory for the shards")
    p.add_argument("--img_folder", required=True, help="root holding train/ and val/ class folders")
    p.add_argument("--random_seed", type=int, default=0, help="seed of the train-list permutation")
    p.add_argument("--train_shards", type=int, default=None, help="default: 1024 for ImageNet, ~500 images each")
    p.add_argument("--val_shards", type=int, default=None, help="default: 128 for ImageNet, ~500 images each")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores for large sets)")
    args = p.parse_args(argv)
    try:
        build_tfrecords(args.img_folder, args.save_dir, args.random_seed, args.train_shards, args.val_shards,
                        args.workers)
    except ValueError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
