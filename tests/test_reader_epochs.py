"""Which reader runs, and the epoch boundaries of the repeating training stream (whole batches per epoch)."""
import numpy as np
import pytest

from common.data.augment import AugmentConfig
from common.data import input as data_input
from common.data.input import dali_available, make_dataset
from common.tf1 import tf

RAW = AugmentConfig(size=96, crop="none", normalize=False)
NEEDS_DALI = pytest.mark.skipif(not dali_available(), reason="the DALI TensorFlow plugin is not installed")


@pytest.mark.parametrize("reader,batch,num_shards", [("tfdata", 12, 1), pytest.param("dali", 12, 1, marks=NEEDS_DALI),
                                                     pytest.param("dali", 7, 3, marks=NEEDS_DALI)])
def test_repeated_batches_stay_within_an_epoch(toy_record_dir, reader, batch, num_shards):
    """Both readers: per epoch a fresh permutation cut into whole batches (remainder dropped), never one index
    twice in a batch; a DALI worker's epochs cover its own part of the records."""
    records = 160 // num_shards  # shard 0 of 3: 53 records
    per_epoch = records // batch
    with tf.Graph().as_default():
        ds = make_dataset(toy_record_dir, "train", batch, RAW, reader=reader, shuffle=True, repeat=True, seed=4,
                          num_shards=num_shards)
        it = tf.data.make_initializable_iterator(ds)
        nxt = it.get_next()
        with tf.Session() as sess:
            sess.run(it.initializer)
            batches = [sess.run(nxt)[2] for _ in range(4 * per_epoch)]
    assert all(len(b) == batch and len(np.unique(b)) == batch for b in batches)
    epochs = [np.concatenate(batches[e * per_epoch:(e + 1) * per_epoch]) for e in range(4)]
    assert all(len(np.unique(e)) == per_epoch * batch for e in epochs)
    seen = np.unique(np.concatenate(epochs))
    assert len(seen) <= records and (num_shards == 1 or seen.max() < 60)  # DALI shard 0: the first 53 records


@NEEDS_DALI
def test_dali_remainder_batch_without_drop(toy_record_dir):
    """``drop_remainder=False`` with ``repeat``: each DALI pass ends with the 160 % 48 = 16 left-over records."""
    with tf.Graph().as_default():
        ds = make_dataset(toy_record_dir, "train", 48, RAW, reader="dali", repeat=True, drop_remainder=False, seed=5)
        it = tf.data.make_initializable_iterator(ds)
        nxt = it.get_next()
        with tf.Session() as sess:
            sess.run(it.initializer)
            batches = [sess.run(nxt)[2] for _ in range(8)]
    assert [len(b) for b in batches] == [48, 48, 48, 16] * 2
    for e in (0, 4):
        assert sorted(np.concatenate(batches[e:e + 4])) == list(range(160))


def test_dataset_names_the_reader_that_runs(toy_record_dir, monkeypatch):
    with tf.Graph().as_default():
        assert make_dataset(toy_record_dir, "train", 8, RAW).reader == "tfdata"
        if dali_available():
            assert make_dataset(toy_record_dir, "train", 8, RAW, reader="dali").reader == "dali"
        monkeypatch.setattr(data_input, "dali_available", lambda: False)  # no plugin: the tf.data fallback
        assert make_dataset(toy_record_dir, "train", 8, RAW, reader="dali").reader == "tfdata"
