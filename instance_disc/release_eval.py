"""``main.py DATA -a resnet50 --resume lemniscate_resnet50.pth.tar -e``: the release's weighted kNN (K=200,
sigma = T) against the checkpoint's STORED memory bank, its rows moved to the records' ``index`` order.

The release numbered the training images as torchvision's ImageFolder over DATA/train does (classes sorted,
files sorted within a class: row r of its bank is the r-th file of that list); the project's records number
them in a seeded permutation and keep each file's name (``class/file``). Record i gets the release's row of the
file of the same name. The release's list is read from DATA/train (or the records' source folder, meta.json
``source``), else rebuilt from the records' own names. A file in one list and not the other is one error line
with the count and the first name.
"""
import json
import os
import zipfile

import numpy as np

from common.data.build import list_image_folder
from common.data.record_listing import split_listing
from common.tf1 import tf
from common.weights.tf_checkpoint import read_checkpoint, write_checkpoint
from instance_disc.model import BANK_SCOPE
from instance_disc.release_weights import BANK_NAME, Z_NAME, read_release

__all__ = ["RELEASE_SUFFIXES", "is_release_checkpoint", "release_order", "bank_rows_for_records",
           "records_checkpoint"]

RELEASE_SUFFIXES = (".pth", ".pth.tar", ".pt", ".t7", ".tar")
LABELS_NAME = BANK_SCOPE + "/all_labels"


def _zoo_meta(path):
    meta_path = os.path.join(path, "zoo.json")
    if not os.path.isfile(meta_path):
        return None
    with open(meta_path) as f:
        meta = json.load(f)
    return meta if meta.get("release") == "lemniscate" else None


def is_release_checkpoint(path):
    """True for a file as the release published it (``.pth``, ``.pth.tar``, torch's zip) or a directory written
    by ``python -m zoo convert lemniscate``."""
    if os.path.isfile(path):
        return path.endswith(RELEASE_SUFFIXES) or zipfile.is_zipfile(path)
    return os.path.isdir(path) and _zoo_meta(path) is not None


def _release_arrays(path):
    """``(arrays, info)`` of a release file or of a converted directory."""
    if os.path.isfile(path):
        return read_release(path)
    meta = _zoo_meta(path)
    prefix = tf.train.latest_checkpoint(path)
    if prefix is None:
        raise ValueError("--resume %s: zoo.json but no checkpoint; convert the file again" % path)
    return read_checkpoint(prefix), meta


def release_order(data_path, meta, record_names):
    """``(file names in the release's ImageFolder order, where the list came from)``."""
    for folder in (data_path, meta.get("source")):
        if folder and os.path.isdir(os.path.join(folder, "train")):
            _, listed = list_image_folder(folder, splits=("train",))
            return [entry[2] for entry in listed["train"]], os.path.join(folder, "train")
    return sorted(record_names, key=lambda n: tuple(n.split("/", 1))), "the records' file names"


def bank_rows_for_records(release_names, record_names, bank_rows, resume, source):
    """Row of the release's bank for each record (position = the record's ``index``); one-line errors."""
    position, recorded = {name: i for i, name in enumerate(release_names)}, set(record_names)
    missing = [n for n in release_names if n not in recorded]
    extra = [n for n in record_names if n not in position]
    if missing:
        raise ValueError("--resume %s: %d images of %s are missing from the records (first: %s)"
                         % (resume, len(missing), source, missing[0]))
    if extra:
        raise ValueError("--resume %s: %d record images are not in %s (first: %s)" % (resume, len(extra), source,
                                                                                     extra[0]))
    if bank_rows != len(release_names):
        raise ValueError("--resume %s: its memory bank has %d rows but %s lists %d training images (%d %s)"
                         % (resume, bank_rows, source, len(release_names), abs(bank_rows - len(release_names)),
                            "missing" if bank_rows > len(release_names) else "extra"))
    return np.array([position[n] for n in record_names], np.int64)


def _check_model(arrays, info, cfg, resume):
    if cfg.get("layout", "torchvision") != "torchvision":
        raise ValueError("--resume %s: the release's ResNets are the torchvision layout; drop --set layout" % resume)
    if info.get("arch") != cfg["arch"]:
        raise ValueError("--resume %s: the checkpoint is a %s (its `arch`), not --arch %s"
                         % (resume, info.get("arch"), cfg["arch"]))
    if int(info.get("low_dim", -1)) != int(cfg["low_dim"]):
        raise ValueError("--resume %s: %d-d embedding, not --low-dim %d" % (resume, info.get("low_dim"),
                                                                           cfg["low_dim"]))
    if BANK_NAME not in arrays:
        raise ValueError("--resume %s: the checkpoint stores no memory bank (no `lemniscate`), nothing to kNN "
                         "against" % resume)


def records_checkpoint(resume, cfg, data_path, record_dir, meta, work_dir):
    """Write a project checkpoint of the release checkpoint ``resume`` for the records ``record_dir``: network,
    bank rows in ``index`` order, the records' labels, Z; returns its prefix in ``work_dir``."""
    arrays, info = _release_arrays(resume)
    _check_model(arrays, info, cfg, resume)
    names, labels = split_listing(record_dir, "train")
    release_names, source = release_order(data_path, meta, names)
    rows = bank_rows_for_records(release_names, names, int(arrays[BANK_NAME].shape[0]), resume, source)
    arrays = dict(arrays)
    arrays[BANK_NAME] = arrays[BANK_NAME][rows]
    arrays[LABELS_NAME] = labels.astype(np.int64)
    arrays.setdefault(Z_NAME, np.float32(-1))  # a full-softmax (LinearAverage) file has no Z
    print("=> loaded checkpoint '%s' (epoch %s); memory bank: %d rows from the release's order (%s) to the "
          "records' index order" % (resume, info.get("epoch"), len(rows), source))
    return write_checkpoint(arrays, os.path.join(work_dir, "model"))
