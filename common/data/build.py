"""Building a record directory: resumed when its image lists are unchanged, else rebuilt afresh and swapped in.

``build_record_dir`` is the library behind ``dataset_miscs/build_tfrs*.py``. A build writes into
``<save_dir>.building`` with ``build_state.json`` (a fingerprint of every split's image list, labels, sizes,
shard count, seed and layout); a relaunch with the same fingerprint resumes it (finished shards kept), a
different one deletes it and starts afresh. Only a finished build (``meta.json`` written) replaces
``save_dir``, so two builds never mix. ``build_tfrecords`` builds an ImageNet-style folder.
"""
import hashlib
import json
import os
import re
import shutil

from common.data.fsutil import ensure_writable_dir
from common.data.schema import INDEX_DIR, LABELS_FILE, META_FILE, SPLITS, write_meta
from common.data.writer import build_split

__all__ = ["BUILD_STATE", "CLASS_NAMES_FILE", "SPLIT_DIRS", "build_record_dir", "build_tfrecords",
           "default_shards", "list_image_folder"]

BUILD_STATE = "build_state.json"
BUILDING_SUFFIX, OLD_SUFFIX = ".building", ".old"
CLASS_NAMES_FILE = "class_names.txt"  # "<class folder> <name>" lines next to train/ and val/
SPLIT_DIRS = {"train": "train", "validation": "val"}
IMAGENET_SHARDS = {"train": 1024, "validation": 128}
MIN_PER_SHARD = 500
_OURS = re.compile(r"^(%s)-\d+|^\..*\.tmp$" % "|".join(SPLITS))


def default_shards(count, split):
    """ImageNet's 1024 / 128 shards for ImageNet-sized splits, else about one shard per 500 images."""
    cap = IMAGENET_SHARDS[split]
    return cap if count >= cap * 300 else max(1, count // MIN_PER_SHARD)


def fingerprint(plan, class_names):
    """sha256 of the build's inputs: ``plan`` = ``{split: (entries, shards, seed, layout)}`` and class names."""
    h = hashlib.sha256(json.dumps(list(class_names)).encode())
    for split in sorted(plan):
        entries, shards, seed, layout = plan[split]
        h.update(json.dumps([split, shards, seed, layout]).encode())
        for path, label, filename in entries:
            size = os.path.getsize(path) if os.path.isfile(path) else -1
            h.update(json.dumps([path, int(label), filename, size]).encode())
    return h.hexdigest()


def _state(folder):
    try:
        with open(os.path.join(folder, BUILD_STATE)) as f:
            return json.load(f).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


def _check_replaceable(save_dir):
    """ValueError when ``save_dir`` holds anything a build did not write (it would be replaced)."""
    known = {META_FILE, LABELS_FILE, BUILD_STATE, INDEX_DIR}
    for name in sorted(os.listdir(save_dir)) if os.path.isdir(save_dir) else []:
        sub = os.path.join(save_dir, name)
        nested = os.path.isdir(sub) and any(os.path.exists(os.path.join(sub, f)) for f in (META_FILE, BUILD_STATE))
        if name not in known and not _OURS.match(name) and not nested:
            raise ValueError("save dir %s holds %s, which a record build did not write; use a new or empty "
                             "directory" % (save_dir, name))


def _swap(work, save_dir):
    """Replace ``save_dir`` by the finished build ``work`` (the old contents are deleted afterwards)."""
    old = save_dir + OLD_SUFFIX
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(save_dir):
        os.rename(save_dir, old)
    os.rename(work, save_dir)
    shutil.rmtree(old, ignore_errors=True)


def build_record_dir(save_dir, plan, class_names, source, workers=None, log=print, label_names=None):
    """Build ``plan`` = ``{split: (entries, shards, seed, layout)}`` into ``save_dir``; return ``{split: count}``.

    ``entries`` are ``[(path, label, filename)]``; ``labels.txt`` (``label_names``, default ``class_names``) and
    ``meta.json`` (with shard names) are written with the shards. Resumes an unfinished build of the same
    fingerprint; rebuilds otherwise.
    """
    save_dir = os.path.normpath(save_dir)
    ensure_writable_dir(save_dir, "save dir")
    _check_replaceable(save_dir)
    fp = fingerprint(plan, class_names)
    if _state(save_dir) == fp and os.path.exists(os.path.join(save_dir, META_FILE)):
        work = save_dir  # this very build, finished: only repair (missing index files)
    else:
        work = save_dir + BUILDING_SUFFIX
        if _state(work) != fp:
            if os.path.exists(work):
                log("%s: an unfinished build of other images; starting afresh" % work)
            shutil.rmtree(work, ignore_errors=True)
        ensure_writable_dir(work, "save dir")
        with open(os.path.join(work, BUILD_STATE), "w") as f:
            json.dump({"fingerprint": fp}, f)
    with open(os.path.join(work, LABELS_FILE), "w") as f:
        f.writelines("%s %d\n" % (c, k) for k, c in enumerate(label_names or class_names))
    counts, shards = {}, {}
    for split, (entries, num, seed, layout) in plan.items():
        done = build_split(entries, work, split, num, seed, workers, layout=layout, log=log)
        counts[split], shards[split] = done["count"], done["names"]
    write_meta(work, counts, class_names, source, shards)
    if work != save_dir:
        _swap(work, save_dir)
    return counts


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
                        if not os.path.isdir(os.path.join(root, d, f))]  # a broken link: skipped and counted
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
    """Build both splits of an ImageNet-style ``img_folder`` into ``save_dir``; return ``save_dir``.

    ``labels.txt`` holds ``<class folder> <label>``; ``meta.json`` the class names (from ``class_names.txt``
    when the folder has one). An empty class folder keeps its label (said in one line). The train list is
    permuted with ``random_seed``, validation stays in order.
    """
    classes, splits = list_image_folder(img_folder)
    used = set(label for _, label, _ in splits.get("train", ()))
    for label in (k for k, c in enumerate(classes) if k not in used):
        log("warning: class folder %s holds no images; it keeps label %d (labels follow the sorted class folders) "
            "and counts in num_classes" % (os.path.join(img_folder, "train", classes[label]), label))
    shards = {"train": train_shards, "validation": val_shards}
    plan = {split: (entries, shards[split] or default_shards(len(entries), split),
                    random_seed if split == "train" else None, "imagenet") for split, entries in splits.items()}
    build_record_dir(save_dir, plan, _class_names(img_folder, classes), img_folder, workers, log, classes)
    return save_dir
