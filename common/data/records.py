"""Reading the project's TFRecord directories: listing and checking shards, meta.json, finding records (an image
folder is built into records once). The format itself (features, file names) is ``common.data.schema``."""
import glob
import os

from common.data.build import build_tfrecords
from common.data.fsutil import read_json
from common.data.schema import (FEATURES, INDEX_DIR, LABELS_FILE, META_FILE, SPLITS, index_path,  # noqa: F401
                                write_index, write_meta)
from common.tf1 import tf

def _check_split(split):
    if split not in SPLITS:
        raise ValueError("unknown split %r: expected one of %s" % (split, ", ".join(SPLITS)))


def list_shards(record_dir, split):
    """Sorted shard paths ``<record_dir>/<split>-*`` (split: "train" or "validation"); error when none.

    When the directory has a ``meta.json``, its shard names and record count must match the shards (counted
    from the DALI index files, whose last record must end at the shard's size): one-line error otherwise.
    """
    _check_split(split)
    shards = sorted(p for p in glob.glob(os.path.join(record_dir, split + "-*")) if os.path.isfile(p))
    if not shards:
        raise ValueError("no %s-* TFRecord shards in %s" % (split, record_dir))
    if os.path.exists(os.path.join(record_dir, META_FILE)):
        check_shards(record_dir, split, shards, read_meta(record_dir))
    return shards


def _indexed_count(shard):
    """Records of ``shard`` from its index file (None without one); ValueError when the shard is cut short."""
    idx = index_path(shard)
    if not os.path.isfile(idx):
        return None
    with open(idx) as f:
        rows = [line.split() for line in f if line.strip()]
    if not all(len(r) == 2 and r[0].isdigit() and r[1].isdigit() for r in rows):
        bad = next(r for r in rows if not (len(r) == 2 and r[0].isdigit() and r[1].isdigit()))
        raise ValueError("DALI index file %s is garbled (line %r, expected '<offset> <size>'); rebuild the records"
                         % (idx, " ".join(bad)[:40]))
    end = int(rows[-1][0]) + int(rows[-1][1]) if rows else 0
    if end != os.path.getsize(shard):
        raise ValueError("TFRecord shard %s is %d bytes, its index %s says %d: truncated or replaced; rebuild the "
                         "records" % (shard, os.path.getsize(shard), idx, end))
    return len(rows)


def check_shards(record_dir, split, shards, meta):
    """ValueError (one line, naming ``record_dir``) when ``shards`` disagree with ``meta.json``."""
    _check_classes(record_dir, meta)
    names = [os.path.basename(p) for p in shards]
    listed = (meta.get("shards") or {}).get(split)
    if listed is not None and sorted(listed) != names:
        extra, missing = sorted(set(names) - set(listed)), sorted(set(listed) - set(names))
        raise ValueError("record dir %s: %s shards disagree with %s (not listed there: %s; missing: %s); rebuild "
                         "the records" % (record_dir, split, META_FILE, ", ".join(extra[:3]) or "none",
                                           ", ".join(missing[:3]) or "none"))
    counts = [_indexed_count(p) for p in shards]
    want = (meta.get("splits") or {}).get(split)
    if want is not None and None not in counts and sum(counts) != int(want):
        raise ValueError("record dir %s: the %s shards hold %d records, %s says %d; rebuild the records"
                         % (record_dir, split, sum(counts), META_FILE, int(want)))


def _check_classes(record_dir, meta):
    """ValueError when ``meta.json``'s ``num_classes`` disagrees with its class names or ``labels.txt``."""
    want = meta.get("num_classes")
    names = meta.get("class_names")
    labels_file = os.path.join(record_dir, LABELS_FILE)
    counts = [("its class_names", len(names))] if isinstance(names, list) else []
    if os.path.isfile(labels_file):
        with open(labels_file) as f:
            counts.append((LABELS_FILE, sum(1 for line in f if line.strip())))
    for where, n in counts:
        if want is not None and want != n:
            raise ValueError("record dir %s: %s says num_classes %r, %s has %d classes; the labels would not fit"
                             % (record_dir, META_FILE, want, where, n))


def find_corrupt_shard(shards):
    """``(shard, reason)`` of the first shard whose records fail their checksums or are cut short, else None."""
    for shard in shards:
        try:
            for _ in tf.io.tf_record_iterator(shard):
                pass
        except (tf.errors.DataLossError, tf.errors.OutOfRangeError) as e:
            return shard, (e.message or str(e)).strip().splitlines()[0]
    return None


def sibling_shards(shards):
    """The other splits' shards in the directories of ``shards`` (e.g. the validation shards of training ones)."""
    dirs = sorted(set(os.path.dirname(p) for p in shards))
    found = (p for d in dirs for split in SPLITS for p in sorted(glob.glob(os.path.join(d, split + "-*"))))
    return [p for p in found if os.path.isfile(p) and p not in set(shards)]


def read_meta(record_dir):
    """The dict in ``<record_dir>/meta.json`` (splits, num_classes, class_names, source)."""
    path = os.path.join(record_dir, META_FILE)
    return read_json(path, "cannot read record metadata %s: " % path)


def is_record_dir(path):
    """True when ``path`` holds train or validation shards."""
    return any(glob.glob(os.path.join(path, s + "-*")) for s in SPLITS)


def is_image_folder(path):
    """True when ``path`` looks like an ImageNet-style folder (``train/`` and ``val/`` sub-directories)."""
    return all(os.path.isdir(os.path.join(path, s)) for s in ("train", "val"))


def ensure_records(path):
    """A record dir as is; an image folder (train/, val/) built once into ``<path>_records``; else an error."""
    if not os.path.isdir(path):
        raise ValueError("data path %s does not exist" % path)
    if is_record_dir(path):
        return path
    if not is_image_folder(path):
        raise ValueError("%s is neither a TFRecord dir (train-*/validation-* shards) nor an image folder "
                         "with train/ and val/" % path)
    out = os.path.normpath(path) + "_records"
    if not os.path.exists(os.path.join(out, META_FILE)):
        build_tfrecords(path, out)
    return out
