"""Build Places205 TFRecords from its CSV lists, as in the LA release (``train-%05d-%05d`` names).

    python dataset_miscs/build_tfrs_places.py --out_dir OUT --csv_folder CSV --base_dir BASE --run

Reads ``<csv_folder>/train_places205.csv`` and ``val_places205.csv`` (``relative/path.jpg label`` per line;
unparsable lines are printed and skipped); images live under
``<base_dir>/data/vision/torralba/deeplearning/images256/``. The train list is shuffled with seed 0, validation
kept in CSV order; floor(N / shards) records per file plus a remainder file. Without ``--run`` it only reports.
"""
import os

from common import cli
from common.data.build import build_record_dir

IMAGE_ROOT = os.path.join("data", "vision", "torralba", "deeplearning", "images256")
CSV_FILES = {"train": "train_places205.csv", "validation": "val_places205.csv"}
SHARDS = {"train": 1024, "validation": 128}
SHUFFLE_SEED = 0


def read_csv_list(csv_path, image_root, log=print):
    """``[(path, label, relative path)]`` from a Places205 CSV list; unparsable lines are logged and skipped."""
    if not os.path.isfile(csv_path):
        raise ValueError("Places205 list %s does not exist" % csv_path)
    entries = []
    with open(csv_path) as f:
        for num, line in enumerate(f, 1):
            parts = line.split()
            try:
                rel, label = parts[0], int(parts[1])
            except (IndexError, ValueError):
                if line.strip():
                    log("skipped line %d of %s: %r" % (num, csv_path, line.rstrip("\n")))
                continue
            entries.append((os.path.join(image_root, rel), label, rel))
    if not entries:
        raise ValueError("no image entries in %s" % csv_path)
    return entries


def class_names(entries):
    """Name of each label: the directory part of its first image's relative path (e.g. ``a/abbey``)."""
    names = {}
    for _, label, rel in entries:
        names.setdefault(label, os.path.dirname(rel) or str(label))
    return [names.get(k, str(k)) for k in range(max(names) + 1)]


def build_places(out_dir, csv_folder, base_dir, run=False, train_shards=SHARDS["train"],
                 val_shards=SHARDS["validation"], workers=None, log=print):
    """Build (``run``) or just report the Places205 shards; return ``{split: number of list entries}``."""
    image_root = os.path.join(base_dir, IMAGE_ROOT)
    lists = {split: read_csv_list(os.path.join(csv_folder, name), image_root, log) for split, name in CSV_FILES.items()}
    if not run:
        log("dry run (add --run to write): %s" % ", ".join("%s %d images" % (s, len(e)) for s, e in lists.items()))
        return {s: len(e) for s, e in lists.items()}
    shards = {"train": train_shards, "validation": val_shards}
    plan = {split: (entries, shards[split], SHUFFLE_SEED if split == "train" else None, "places")
            for split, entries in lists.items()}
    return build_record_dir(out_dir, plan, class_names(lists["train"]), csv_folder, workers, log)


def main(argv=None):
    """Command line entry point."""
    p = cli.CliParser(description=__doc__.split("\n")[0])
    p.add_argument("--out_dir", required=True, help="output directory for the shards")
    p.add_argument("--csv_folder", required=True, help="folder with train_places205.csv and val_places205.csv")
    p.add_argument("--base_dir", required=True, help="root that holds data/vision/torralba/deeplearning/images256")
    p.add_argument("--run", action="store_true", help="write the records (otherwise only report)")
    p.add_argument("--train_shards", type=int, default=SHARDS["train"])
    p.add_argument("--val_shards", type=int, default=SHARDS["validation"])
    p.add_argument("--workers", type=int, default=None)
    args = p.parse_args(argv)
    return cli.exit_status(lambda: build_places(args.out_dir, args.csv_folder, args.base_dir, args.run,
                                                args.train_shards, args.val_shards, args.workers))


if __name__ == "__main__":
    cli.run(main)
