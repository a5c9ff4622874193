"""The project's TFRecord format, in one place: the fields of each record (``FIELDS``; the tf.data and DALI
feature specs are derived from it), the one decoder of a record, the shard, meta and index file names, and
writing the DALI index files and ``meta.json`` (read by ``common.data.records``, written by the builders)."""
import json
import os

from common.tf1 import tf

# name -> (type, default): the encoded JPEG as read, its label, its index 0..N-1 in its split, its file name
FIELDS = {"images": ("bytes", ""), "labels": ("int64", -1), "index": ("int64", -1), "filename": ("bytes", "")}
FEATURES = {name: tf.io.FixedLenFeature([], tf.string if kind == "bytes" else tf.int64, default_value=default)
            for name, (kind, default) in FIELDS.items()}
DCT_METHOD = "INTEGER_ACCURATE"  # libjpeg's ISLOW IDCT: the same pixels as DALI's and PIL's decoders
SPLITS = ("train", "validation")
META_FILE = "meta.json"
LABELS_FILE = "labels.txt"
INDEX_DIR = "idx"



def dali_features(names=("images", "labels", "index")):
    """The fields ``names`` as the feature spec of DALI's TFRecord reader (``fn.readers.tfrecord``)."""
    import nvidia.dali.tfrecord as tfrec
    kinds = {"bytes": tfrec.string, "int64": tfrec.int64}
    return {name: tfrec.FixedLenFeature((), kinds[FIELDS[name][0]], FIELDS[name][1]) for name in names}


def parse_records(serialized, fields=None):
    """Serialized record(s) (a scalar or a batch) -> ``{field: tensor}`` of ``fields`` (default: every field),
    in TF."""
    spec = FEATURES if fields is None else {name: FEATURES[name] for name in fields}
    if serialized.shape.ndims == 0:
        return tf.io.parse_single_example(serialized, spec)
    return tf.io.parse_example(serialized, spec)


def decode_record(serialized):
    """One serialized record -> ``{"image": uint8 [H, W, 3] (the JPEG decoded), "label", "index"}``, in TF."""
    rec = parse_records(serialized)
    image = tf.image.decode_jpeg(rec["images"], channels=3, dct_method=DCT_METHOD)
    return {"image": image, "label": rec["labels"], "index": rec["index"]}


def example_fields(serialized):
    """One serialized record -> ``{field: value}`` in Python (bytes, int; ``filename`` as str), without TF ops."""
    feature = tf.train.Example.FromString(serialized).features.feature
    out = {}
    for name, (kind, _) in FIELDS.items():
        value = feature[name].bytes_list.value[0] if kind == "bytes" else feature[name].int64_list.value[0]
        out[name] = value.decode("utf-8") if name == "filename" else value
    return out


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
