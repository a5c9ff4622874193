"""Build the project's TFRecords from mini-ImageNet as the classification release lays it out.

    python dataset_miscs/build_tfrs_mini_imagenet.py --data_dir data/miniImageNet --image_root IMAGES \
        --save_dir OUT [--random_seed 0] [--workers W] [--split_from FOLDER --split 500,50,50]

``--data_dir`` holds ``labels_to_content.txt`` (one class per line: ``<label> <name>``, or just the name, the
line number being the label) and the image lists ``train_labels.txt``, ``valid_labels.txt`` (or
``val_labels.txt``) and optionally ``test_labels.txt``, each line ``<image path> <integer label>`` with paths
relative to ``--image_root``. Writes train and validation shards into ``--save_dir`` (with ``labels.txt`` and
``meta.json`` carrying the class names) and, when a test list exists, the test images as the validation split
of the record dir ``<save_dir>/test``. Every list is checked before anything is written.

``--split_from FOLDER`` first writes those files (the classification seed's split): FOLDER holds one sub-folder per class (e.g. the 100
ILSVRC-2012 train folders of mini-ImageNet's classes, full resolution); classes are the sorted folder names
(names from a ``class_names.txt`` in FOLDER or its parent when present), each class's sorted files are permuted
with ``--random_seed`` and cut into ``--split`` train / valid / test counts; paths are relative to FOLDER.
"""
import os

import numpy as np

from common import cli
from common.data.build import build_record_dir, default_shards

CLASS_FILE = "labels_to_content.txt"
LISTS = {"train": ("train_labels.txt",), "validation": ("valid_labels.txt", "val_labels.txt"),
         "test": ("test_labels.txt",)}
TEST_DIR = "test"
NAMES_FILE = "class_names.txt"  # "<class folder> <name>" lines, as dataset_miscs/make_toy_dataset.py writes


def read_class_names(path):
    """Class names by label from ``labels_to_content.txt``; labels must be 0..C-1."""
    if not os.path.isfile(path):
        raise ValueError("class name file %s does not exist" % path)
    names = {}
    with open(path) as f:
        lines = [line.strip() for line in f if line.strip()]
    for n, line in enumerate(lines):
        head, _, rest = line.partition(" ")
        label, name = (int(head), rest.strip()) if head.isdigit() and rest.strip() else (n, line)
        if label in names:
            raise ValueError("%s line %d: label %d appears twice" % (path, n + 1, label))
        names[label] = name
    if sorted(names) != list(range(len(names))):
        raise ValueError("%s: labels must be 0..%d" % (path, len(names) - 1))
    return [names[k] for k in range(len(names))]


def read_image_list(path, image_root, num_classes):
    """``[(image path, label, filename)]`` of a ``path label`` list; one-line errors naming file and line."""
    entries = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise ValueError("%s line %d: expected '<image path> <integer label>', got %r"
                                 % (path, n, line.strip()))
            label = int(parts[1])
            if not 0 <= label < num_classes:
                raise ValueError("%s line %d: label %d outside 0..%d" % (path, n, label, num_classes - 1))
            image = os.path.join(image_root, parts[0])
            if not os.path.isfile(image):
                raise ValueError("%s line %d: image %s does not exist" % (path, n, image))
            entries.append((image, label, parts[0]))
    if not entries:
        raise ValueError("%s lists no images" % path)
    return entries


def find_lists(data_dir):
    """``{split: list file}`` for train, validation (required) and test (optional)."""
    found = {}
    for split, names in LISTS.items():
        paths = [os.path.join(data_dir, n) for n in names if os.path.isfile(os.path.join(data_dir, n))]
        if paths:
            found[split] = paths[0]
        elif split != "test":
            raise ValueError("%s has no %s" % (data_dir, " or ".join(names)))
    return found


def split_lists(folder, counts, seed=0):
    """``(class names, {list file: ["path label", ...]})``: a seeded per-class train/valid/test split of FOLDER."""
    if not os.path.isdir(folder):
        raise ValueError("--split_from %s: no such folder" % folder)
    classes = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)) and d[0] != ".")
    if not classes:
        raise ValueError("--split_from %s: no class sub-folders" % folder)
    names = {}
    parent = os.path.dirname(os.path.normpath(folder))
    for names_file in (os.path.join(folder, NAMES_FILE), os.path.join(parent, NAMES_FILE)):
        if os.path.isfile(names_file):
            with open(names_file) as f:
                names = dict(line.strip().split(None, 1) for line in f if len(line.split()) > 1)
            break
    lists = {"train_labels.txt": [], "valid_labels.txt": [], "test_labels.txt": []}
    bounds = np.cumsum([0] + list(counts))
    for label, c in enumerate(classes):
        files = sorted(f for f in os.listdir(os.path.join(folder, c)) if f[0] != ".")
        if len(files) < bounds[-1]:
            raise ValueError("--split_from %s: class %s has %d images, fewer than the %d of --split %s"
                             % (folder, c, len(files), bounds[-1], ",".join(map(str, counts))))
        order = [files[i] for i in np.random.RandomState(seed).permutation(len(files))]
        for name, lo, hi in zip(lists, bounds[:-1], bounds[1:]):
            lists[name] += ["%s/%s %d" % (c, f, label) for f in order[lo:hi]]
    return [names.get(c, c) for c in classes], lists


def write_split_lists(folder, data_dir, counts, seed=0):
    """Write ``labels_to_content.txt`` and the three list files of ``split_lists`` into ``data_dir``."""
    class_names, lists = split_lists(folder, counts, seed)
    os.makedirs(data_dir, exist_ok=True)
    with open(os.path.join(data_dir, CLASS_FILE), "w") as f:
        f.writelines("%d %s\n" % (k, name) for k, name in enumerate(class_names))
    for name, lines in lists.items():
        with open(os.path.join(data_dir, name), "w") as f:
            f.writelines(line + "\n" for line in lines)


def build_mini_imagenet(data_dir, image_root, save_dir, random_seed=0, workers=None, log=print):
    """Check every list, then write ``save_dir`` (train, validation) and ``save_dir/test``; returns save_dir."""
    class_names = read_class_names(os.path.join(data_dir, CLASS_FILE))
    lists = {s: read_image_list(p, image_root, len(class_names)) for s, p in find_lists(data_dir).items()}
    plan = {split: (lists[split], default_shards(len(lists[split]), split), random_seed if split == "train" else None,
                    "imagenet") for split in ("train", "validation")}
    build_record_dir(save_dir, plan, class_names, data_dir, workers, log)
    if "test" in lists:
        test = {"validation": (lists["test"], default_shards(len(lists["test"]), "validation"), None, "imagenet")}
        build_record_dir(os.path.join(save_dir, TEST_DIR), test, class_names, data_dir, workers, log)
    return save_dir


def main(argv=None):
    """Command line entry point."""
    p = cli.CliParser(description=__doc__.split("\n")[0])
    p.add_argument("--data_dir", required=True, help="folder with labels_to_content.txt and the *_labels.txt lists")
    p.add_argument("--image_root", help="root the list paths are relative to (default: --split_from)")
    p.add_argument("--save_dir", required=True, help="output record directory")
    p.add_argument("--random_seed", type=int, default=0, help="seed of the train-list permutation")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores for large sets)")
    p.add_argument("--split_from", help="first write the lists from this folder of class sub-folders")
    p.add_argument("--split", default="500,50,50", help="train,valid,test images per class for --split_from")
    args = p.parse_args(argv)
    def build():
        if args.split_from:
            counts = [int(x) for x in args.split.split(",") if x.strip().isdigit()]
            if len(counts) != 3:
                raise ValueError("--split %s: expected three counts TRAIN,VALID,TEST" % args.split)
            write_split_lists(args.split_from, args.data_dir, counts, args.random_seed)
        image_root = args.image_root or args.split_from
        if not image_root:
            raise ValueError("--image_root is required (the root the list paths are relative to)")
        build_mini_imagenet(args.data_dir, image_root, args.save_dir, args.random_seed, args.workers)
    return cli.exit_status(build)


if __name__ == "__main__":
    cli.run(main)
