"""``--seed N`` (common.seeding): the graph seed, both readers' order and augmentation, the shared flag, and two
seeded toy runs of instance_disc that print the same figures."""
import json
import os

import numpy as np
import pytest

from common import cli, seeding
from common.data.augment import AugmentConfig
from common.data.input import dali_available, make_dataset
from common.tf1 import tf
from instance_disc import toy_demo
from tests.test_instance_disc_cli import _bank


@pytest.fixture(autouse=True)
def unseeded_after():
    yield
    seeding.set_seed(None)


def _draws():
    with tf.Graph().as_default():
        seeding.seed_graph()
        x = tf.random.uniform([4])
        with tf.Session() as sess:
            return sess.run(x)


def test_graph_seed_and_derived_seeds():
    assert seeding.current() is None and seeding.derived(3) is None
    assert not np.array_equal(_draws(), _draws())  # unseeded, as the releases
    seeding.set_seed(7)
    assert seeding.current() == 7 and seeding.derived(3) == 10
    np.testing.assert_array_equal(_draws(), _draws())
    with pytest.raises(ValueError, match="--seed -1: must be >= 0"):
        seeding.set_seed(-1)


def test_seeded_run_asks_cudnn_for_deterministic_algorithms(monkeypatch):
    monkeypatch.delenv("TF_CUDNN_DETERMINISTIC", raising=False)
    seeding.set_seed(None)
    assert "TF_CUDNN_DETERMINISTIC" not in os.environ  # unseeded: TensorFlow's defaults, as the releases
    seeding.set_seed(3)
    assert os.environ["TF_CUDNN_DETERMINISTIC"] == "1"
    seeding.set_seed(None)


def test_every_parser_takes_seed():
    parser = cli.make_parser([cli.Flag("lr", 0.1, "rate")])
    assert cli.resolve(parser, [cli.Flag("lr", 0.1, "rate")], ["--seed", "4"]).seed == 4
    assert seeding.current() == 4


AUG = AugmentConfig(size=24, crop="random_resized", scale=(0.2, 1.0), flip=True, color_jitter=(0.4, 0.4, 0.4, 0.1),
                    grayscale_prob=0.2)


def _batches(record_dir, reader):
    with tf.Graph().as_default():
        seeding.seed_graph()
        it = tf.data.make_initializable_iterator(make_dataset(record_dir, "train", 16, AUG, reader=reader))
        nxt = it.get_next()
        with tf.Session() as sess:
            sess.run(it.initializer)
            return [sess.run(nxt) for _ in range(12)]  # 192 > 160: into the second epoch


@pytest.mark.parametrize("reader", ["tfdata", pytest.param("dali", marks=pytest.mark.skipif(
    not dali_available(), reason="the DALI TensorFlow plugin is not installed"))])
def test_seeded_readers_repeat_order_and_augmentation(toy_record_dir, reader):
    seeding.set_seed(11)
    first, second = _batches(toy_record_dir, reader), _batches(toy_record_dir, reader)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a[2], b[2])
        np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.slow
def test_two_seeded_toy_runs_print_the_same_figures(toy_record_dir, tmp_path, capsys):
    tiny = {"nce_k": 64, "epochs": 2, "steps_per_epoch": 2, "image_size": 32, "resize_size": 36, "batch_size": 16,
            "val_batch_size": 20}
    runs = []
    for k in range(2):
        seeding.set_seed(0)  # what demo.run_paper does
        rows = toy_demo.run(toy_record_dir, str(tmp_path / str(k)), overrides=tiny)
        printed = [line for line in capsys.readouterr().out.splitlines() if "%" in line and "(" not in line]
        runs.append(([{k: v for k, v in r.items() if k != "train_seconds"} for r in rows], printed,
                     _bank(str(tmp_path / str(k) / "train"))[0]))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    np.testing.assert_array_equal(runs[0][2], runs[1][2])  # the same memory bank, bit for bit
    assert json.load(open(str(tmp_path / "0" / "train" / "knn.json"))) == \
        json.load(open(str(tmp_path / "1" / "train" / "knn.json")))
