"""revisiting: the release's train/val/trainval/test splits over shards, and the trunk's conv initializer."""
import os

import numpy as np
import pytest

from common.tf1 import tf
from revisiting.data import make_input, record_range, split_files, split_size
from revisiting.net import get_net


def fake_records(tmp_path, counts, split="train"):
    """A record dir whose ``split`` shards have DALI index files listing ``counts`` records."""
    os.makedirs(str(tmp_path / "idx"), exist_ok=True)
    for k, n in enumerate(counts):
        name = "%s-%05d-of-%05d" % (split, k, len(counts))
        open(str(tmp_path / name), "w").close()
        with open(str(tmp_path / "idx" / (name + ".idx")), "w") as f:
            f.writelines("%d 10\n" % (10 * i) for i in range(n))
    return str(tmp_path)


def test_release_layout_gives_first_984_and_last_40_shards(tmp_path):
    # slim's build_imagenet_data.py puts floor(k * N / 1024) images before shard k
    n = 1281167
    bounds = (np.arange(1025) * n) // 1024
    record_dir = fake_records(tmp_path, np.diff(bounds))
    head, tail = split_files(record_dir, "train"), split_files(record_dir, "val")
    assert [os.path.basename(p) for p, _, _ in head] == ["train-%05d-of-01024" % k for k in range(984)]
    assert [os.path.basename(p) for p, _, _ in tail] == ["train-%05d-of-01024" % k for k in range(984, 1024)]
    assert all(skip == 0 for _, skip, _ in head + tail)
    assert (split_size(record_dir, "train"), split_size(record_dir, "val"), split_size(record_dir, "trainval")) == \
        (1231121, 50046, 1281167)


@pytest.mark.parametrize("counts", [[7, 7, 7], [5, 1, 9, 3], [40], [20, 20]])
def test_other_layouts_split_records_in_stored_order(tmp_path, counts):
    record_dir = fake_records(tmp_path, counts)
    total = sum(counts)
    stored = np.arange(total)  # record ids in stored order
    starts = np.cumsum([0] + counts[:-1])
    got = {}
    for split in ("train", "val", "trainval"):
        ids = []
        for path, skip, take in split_files(record_dir, split):
            k = int(os.path.basename(path).split("-")[1])
            ids += list(range(starts[k] + skip, starts[k] + skip + take))
        got[split] = ids
    boundary = total * 984 // 1024
    assert got["train"] == list(stored[:boundary]) and got["val"] == list(stored[boundary:])
    assert got["trainval"] == list(stored) and record_range(total, "tail") == (boundary, total)


def test_make_input_reads_exactly_the_split(toy_record_dir):
    """Toy records (2 shards, 160 images): val = the last 160 - floor(160 * 984 / 1024) = 7 records."""
    def indices(split, batch):
        with tf.Graph().as_default(), tf.Session() as sess:
            nxt = tf.data.make_one_shot_iterator(make_input(
                toy_record_dir, split, batch, lambda ex: ex, False, with_index=True)).get_next()
            out = []
            while True:
                try:
                    out += list(sess.run(nxt)[2])
                except tf.errors.OutOfRangeError:
                    return out
    train, val = indices("train", 1), indices("val", 1)
    assert len(train) == 153 and len(val) == 7 and not set(train) & set(val)
    assert sorted(train + val) == sorted(indices("trainval", 1)) and len(indices("test", 1)) == 40
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        split_size(toy_record_dir, "validation")


def test_resnet_convs_use_glorot_uniform():
    """The release's tf.layers convolutions: Glorot uniform, limit sqrt(6 / (fan_in + fan_out))."""
    with tf.Graph().as_default():
        get_net("resnet50", 4, mode="v1")(tf.zeros([1, 64, 64, 3]), True)
        kernel = [v for v in tf.global_variables() if v.op.name == "module/block1/unit2/conv1/W"][0]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            w = sess.run(kernel)
    assert w.shape == (1, 1, 256, 64)
    limit = np.sqrt(6.0 / (256 + 64))  # 0.137; He/variance scaling (fan-in) would give std 1/16 = 0.0625
    assert np.abs(w).max() <= limit and abs(w.std() - limit / np.sqrt(3)) < 0.03 * limit
