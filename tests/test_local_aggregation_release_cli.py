"""The release's published LA checkpoint through the project's command lines (toy records): ``train_transfer.py
--load_checkpoint`` from the raw tar (global step and frozen backbone carried) and ``python -m
local_aggregation.knn_eval`` against the stored bank and labels, checked against numpy."""
import os
import subprocess
import sys

import numpy as np
import pytest

from common.tf1 import tf
from common.weights.tf_checkpoint import read_checkpoint
from local_aggregation import knn_eval, release

sys.path.insert(0, os.path.dirname(__file__))
from la_release_writer import write_release_tar  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def release_files(tmp_path_factory):
    """The release's tar (global step 12, a 160-row bank with toy labels) and its conversion."""
    folder = tmp_path_factory.mktemp("la_release_cli")
    images = np.zeros((1, 32, 32, 3), np.float32)
    tar_path, _ = write_release_tar(str(folder), images, bank_rows=160, seed=7, step=12)
    converted = str(folder / "converted")
    release.convert(tar_path, converted)
    return tar_path, converted


def _run(*args):
    out = subprocess.run([sys.executable] + list(args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True)
    return out.returncode, out.stdout


@pytest.mark.slow
def test_transfer_starts_from_the_release_tar(release_files, toy_record_dir, tmp_path):
    tar_path, converted = release_files
    cache = str(tmp_path)
    code, log = _run(os.path.join("local_aggregation", "train_transfer.py"), "--config",
                     "exp_configs/la_trans_final.json:trans_res18_LA", "--load_checkpoint", tar_path,
                     "--image_dir", toy_record_dir, "--cache_dir", cache, "--num_classes", "10", "--image_size", "32",
                     "--train_num_steps", "14", "--batch_size", "8", "--test_batch_size", "20",
                     "--fre_cache_filter", "2", "--fre_valid", "2", "--get_all_layers", "9")
    assert code == 0, log[-3000:]
    assert "Start training with global_step=12" in log
    folder = os.path.join(cache, "models", "la_pub", "trans_test", "res18_LA")
    final = read_checkpoint(tf.train.latest_checkpoint(folder))
    assert int(final["global_step"]) == 14
    source = release.read_source(tar_path)
    np.testing.assert_array_equal(final["conv0/W"], source["resnet_model/conv2d/kernel"])
    np.testing.assert_array_equal(final["final_bn/mean/EMA"], source["resnet_model/batch_normalization_16/moving_mean"])
    assert os.path.isfile(os.path.join(folder, "results.json"))


def test_knn_eval_uses_the_stored_bank(release_files, toy_record_dir):
    _, converted = release_files
    prefix = os.path.join(converted, release.CHECKPOINT_NAME)
    bank = tf.train.load_variable(prefix, "instance/memory_bank")
    bank_labels = tf.train.load_variable(prefix, "instance/all_labels")
    queries, labels = knn_eval.embed_validation(prefix, toy_record_dir, batch_size=16)
    assert queries.shape == (40, 128) and list(labels) == sorted(labels)
    res = knn_eval.evaluate(converted, toy_record_dir, knn_k=5, batch_size=16)
    sims = queries @ bank.T
    nn1 = np.mean(bank_labels[np.argmax(sims, axis=1)] == labels)
    top = np.argsort(-sims, axis=1)[:, :5]
    votes = np.zeros((len(labels), 10))
    for i, row in enumerate(top):
        np.add.at(votes[i], bank_labels[row], np.exp(sims[i, row] / 0.07))
    assert res["nn1_top1"] == pytest.approx(nn1, abs=1e-9)
    assert res["knn_top1"] == pytest.approx(np.mean(np.argmax(votes, axis=1) == labels), abs=1e-9)


def test_knn_eval_cli(release_files, toy_record_dir):
    code, out = _run("-m", "local_aggregation.knn_eval", release_files[0], "--image_dir", toy_record_dir)
    assert code == 0, out[-3000:]
    assert out.strip().splitlines()[-1].startswith("nn1_top1 ")


def test_knn_eval_needs_a_bank(tmp_path, toy_record_dir):
    with tf.Graph().as_default():
        v = tf.get_variable("conv0/W", [1], initializer=tf.zeros_initializer())
        with tf.Session() as sess:
            sess.run(v.initializer)
            tf.train.Saver([v]).save(sess, str(tmp_path / "model-1"))
    code, out = _run("-m", "local_aggregation.knn_eval", str(tmp_path / "model-1"), "--image_dir", toy_record_dir)
    assert code == 2 and out.strip().splitlines()[-1].startswith("error: CHECKPOINT")
    assert "instance/memory_bank" in out
