"""The file list of a split of the project's TFRecords: ``filename`` and label of every ``index`` 0..N-1, read
without decoding an image (e.g. to line up another release's per-image arrays with the records)."""
import numpy as np

from common.data.records import list_shards
from common.data.schema import parse_records
from common.tf1 import tf

__all__ = ["split_listing"]

_FIELDS = ("labels", "index", "filename")


def split_listing(record_dir, split="train", batch=4096):
    """``(filenames, labels)`` of ``split``, position i holding the record whose ``index`` is i; a ValueError
    naming the directory when the indices are not exactly 0..N-1."""
    shards = list_shards(record_dir, split)
    indices, labels, names = [], [], []
    with tf.Graph().as_default():
        dataset = tf.data.TFRecordDataset(shards, num_parallel_reads=min(16, len(shards))).batch(batch)
        dataset = dataset.map(lambda s: parse_records(s, _FIELDS))
        nxt = tf.data.make_one_shot_iterator(dataset).get_next()
        with tf.Session(config=tf.ConfigProto(device_count={"GPU": 0})) as sess:
            while True:
                try:
                    out = sess.run(nxt)
                except tf.errors.OutOfRangeError:
                    break
                indices.append(out["index"])
                labels.append(out["labels"])
                names.extend(n.decode("utf-8") for n in out["filename"])
    indices, labels = np.concatenate(indices), np.concatenate(labels)
    if not np.array_equal(np.sort(indices), np.arange(len(indices))):
        raise ValueError("%s: the %s records' indices are not 0..%d, each once" % (record_dir, split, len(indices) - 1))
    order = np.argsort(indices)
    return [names[i] for i in order], labels[order]
