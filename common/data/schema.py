"""The project's TFRecord format: the features of each record, the shard, meta and index file names, and
writing the DALI index files and ``meta.json`` (read by ``common.data.records``, written by the builders)."""
import json
import os

from common.tf1 import tf

FEATURES = {
    "images": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "labels": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "index": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "filename": tf.io.FixedLenFeature([], tf.string, default_value=""),
}
SPLITS = ("train", "validation")
META_FILE = "meta.json"
LABELS_FILE = "labels.txt"
INDEX_DIR = "idx"


def index_path(shard):
    """Path of the DALI index file of ``shard`` (in the ``idx/`` folder next to it)."""
    return os.path.join(os.path.dirname(shard), INDEX_DIR, os.path.basename(shard) + ".idx")


def write_index(shard, out_path):
    """Write DALI's index (``offset size`` per record) of a TFRecord file by walking its length headers."""
    lines = []
    size = os.path.getsize(shard)
    with open(shard, "rb") as f:
        offset = 0
        while offset < size:
            header = f.read(8)
            if len(header) < 8:
                raise ValueError("truncated TFRecord file %s at byte %d" % (shard, offset))
            length = int.from_bytes(header, "little")
            if offset + length + 16 > size:
                raise ValueError("truncated TFRecord file %s: record at byte %d runs past the end" % (shard, offset))
            lines.append("%d %d\n" % (offset, length + 16))
            offset += length + 16
            f.seek(offset)
    with open(out_path, "w") as f:
        f.writelines(lines)


def write_meta(record_dir, splits, class_names, source, shards=None):
    """Write ``<record_dir>/meta.json``: split sizes, class count and names, source, shard names per split."""
    meta = {"splits": splits, "num_classes": len(class_names), "class_names": list(class_names),
            "source": os.path.abspath(source)}
    if shards is not None:
        meta["shards"] = shards
    with open(os.path.join(record_dir, META_FILE), "w") as f:
        json.dump(meta, f, indent=1)
