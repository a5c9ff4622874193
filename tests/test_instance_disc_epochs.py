"""instance_disc's epochs as the release's loader (``drop_last=False``): ceil(N/B) steps, the last on the
remainder, every image once per epoch, towers of one step sharing one global batch (no index twice in a step)."""
import numpy as np
import pytest

from common.data.input import dali_available
from common.data.records import read_meta
from common.tf1 import tf
from instance_disc import main
from instance_disc.inputs import RecordInput, array_data, record_data
from instance_disc.runner import check_remainder, steps_per_epoch, tower_batches
from tests.test_instance_disc_cli import TINY, _bank, _updated_rows

CFG = {"batch_size": 4, "steps_per_epoch": 0, "crop_scale": [0.2, 1.0], "val_batch_size": 5}


def _steps(dataset, num_towers, steps):
    """``steps`` global steps of ``num_towers`` tower batches each, pulled from one iterator."""
    with tf.Graph().as_default(), tf.Session() as sess:
        index = tf.data.make_one_shot_iterator(tower_batches(dataset(), num_towers)).get_next()[2]
        return [[sess.run(index) for _ in range(num_towers)] for _ in range(steps)]


def _check_epochs(steps, n, per_epoch, epochs, last_sizes):
    for step in steps:
        merged = np.concatenate(step)
        assert len(np.unique(merged)) == len(merged)  # no index twice in one global step
    for e in range(epochs):
        epoch = steps[e * per_epoch:(e + 1) * per_epoch]
        assert sorted(np.concatenate([np.concatenate(s) for s in epoch])) == list(range(n))  # each image once
        assert [len(t) for t in epoch[-1]] == last_sizes
    assert not np.array_equal(np.concatenate(steps[0]), np.concatenate(steps[per_epoch]))  # reshuffled


def test_cifar_arrays_epochs_end_on_the_remainder_batch():
    n = 10
    images, labels = np.zeros((n, 8, 8, 3), np.uint8), np.arange(n) % 3
    data = array_data("arrays", images, labels, images[:2], labels[:2], CFG["crop_scale"], CFG["val_batch_size"])
    per_epoch = steps_per_epoch(CFG, n)
    assert per_epoch == 3  # ceil(10 / 4): 4 + 4 + 2, as the release's loader
    steps = _steps(lambda: data.train(CFG["batch_size"]), 2, 4 * per_epoch)
    _check_epochs(steps, n, per_epoch, 4, [1, 1])
    assert [len(t) for t in steps[0]] == [2, 2]


@pytest.mark.parametrize("reader", ["tfdata", pytest.param("dali", marks=pytest.mark.skipif(
    not dali_available(), reason="the DALI TensorFlow plugin is not installed"))])
def test_record_epochs_end_on_the_remainder_batch(toy_record_dir, reader):
    cfg = dict(CFG, batch_size=48)
    spec = RecordInput(image_size=32, crop_scale=CFG["crop_scale"], resize_size=36, val_batch_size=5, reader=reader)
    data = record_data(toy_record_dir, read_meta(toy_record_dir), spec)
    per_epoch = steps_per_epoch(cfg, 160)
    assert per_epoch == 4  # 48 x 3 + 16
    _check_epochs(_steps(lambda: data.train(48), 2, 3 * per_epoch), 160, per_epoch, 3, [8, 8])


def test_a_remainder_smaller_than_the_towers_is_refused():
    check_remainder(dict(CFG, batch_size=4), 10, 2)
    with pytest.raises(ValueError, match=r"^-b 4: the last batch of each epoch holds 2 image\(s\) \(10 % 4\), fewer "
                                         r"than the 4 towers"):
        check_remainder(dict(CFG, batch_size=4), 10, 4)


@pytest.mark.slow
def test_one_epoch_updates_every_bank_row(toy_record_dir, tmp_path):
    """Two towers, 160 images at -b 48: 4 steps (the last on 16 images) write all 160 rows of the bank."""
    logdir = str(tmp_path / "run")
    main.main([toy_record_dir, "-b", "48", "--epochs", "1", "--cpu_towers", "2", "--logdir", logdir] + TINY +
              ["--steps-per-epoch", "0"])
    bank, _ = _bank(logdir)
    assert _updated_rows(bank) == 160
    assert tf.train.latest_checkpoint(logdir).endswith("model-4")
