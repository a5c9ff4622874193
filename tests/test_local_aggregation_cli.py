"""The release's command lines on the toy records: IR -> LA -> ImageNet / Places205 transfer, resume, bad input."""
import collections
import json
import os
import subprocess
import sys

import faiss
import numpy as np
import pytest

from common import cli, devices
from tensorpack.tfutils.tower import PredictTowerContext

from common.tf1 import tf
from local_aggregation import clustering, train, train_transfer
from local_aggregation.augmentation import make_validation_dataset
from local_aggregation.flags import parse_flags
from local_aggregation.toy_demo import embed_split
from local_aggregation.transfer import TransferModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--batch_size", "16", "--test_batch_size", "20", "--fre_cache_filter", "4", "--fre_valid", "4"]


def _cli(script, config, record_dir, cache, *extra):
    cmd = [sys.executable, os.path.join("local_aggregation", script), "--config", config, "--image_dir", record_dir,
           "--cache_dir", cache] + TINY + list(extra)
    out = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert out.returncode == 0, out.stdout[-3000:]
    return out.stdout


def _ckpts(cache, exp):
    folder = os.path.join(cache, "models", *exp.split("/"))
    return sorted(int(f[len("model-"):-len(".index")]) for f in os.listdir(folder) if f.endswith(".index"))


@pytest.fixture(scope="module")
def chain(toy_record_dir, tmp_path_factory):
    """IR (6 steps) then LA (to step 10) with the release's commands and the toy configs."""
    cache = str(tmp_path_factory.mktemp("la_cli"))
    ir_log = _cli("train.py", "exp_configs/la_final.json:toy_IR", toy_record_dir, cache, "--train_num_steps", "6")
    la_log = _cli("train.py", "exp_configs/la_final.json:toy_LA", toy_record_dir, cache, "--load_step", "6",
                  "--train_num_steps", "10", "--kmeans_k", "8,5", "--instance_k", "64")
    return cache, ir_log, la_log


@pytest.mark.slow
def test_ir_then_la_continue_the_global_step(chain, toy_record_dir):
    cache, ir_log, la_log = chain
    assert _ckpts(cache, "la_toy/test/toy_IR") == [4, 6]
    assert _ckpts(cache, "la_toy/test/toy_LA") == [10]  # epochs of 4 steps counted from the loaded step 6
    assert "Start training with global_step=6" in la_log
    assert la_log.count("k-means [8, 5] on 160 bank rows") == 1  # at the start; the 10-step epoch ends at the end
    with open(os.path.join(cache, "models", "la_toy", "test", "toy_LA", "val_log.txt")) as f:
        rows = [json.loads(line) for line in f]
    assert [r["step"] for r in rows] == [8, 10]
    # the release's 1-NN over the bank, recomputed in numpy from the final checkpoint's bank and labels
    ckpt = os.path.join(cache, "models", "la_toy", "test", "toy_LA", "model-10")
    args, _ = parse_flags("train", ["--config", "exp_configs/la_final.json:toy_LA", "--image_dir", "x",
                                    "--cache_dir", cache, "--test_batch_size", "20"])
    queries, labels = embed_split(ckpt, toy_record_dir, args, "validation")
    bank = tf.train.load_variable(ckpt, "instance/memory_bank")
    bank_labels = tf.train.load_variable(ckpt, "instance/all_labels")
    nn1 = np.mean(bank_labels[np.argmax(queries @ bank.T, axis=1)] == labels)
    assert rows[-1]["nn1_top1"] == pytest.approx(nn1, abs=1e-6)


@pytest.mark.slow
def test_la_resumes_with_bank_labels_and_step(chain, toy_record_dir):
    cache = chain[0]
    log = _cli("train.py", "exp_configs/la_final.json:toy_LA", toy_record_dir, cache, "--load_step", "6",
               "--train_num_steps", "12", "--kmeans_k", "8,5", "--instance_k", "64")
    assert "Resuming from" in log and "Start training with global_step=10" in log
    assert "k-means [8, 5] on 160 bank rows" in log
    assert _ckpts(cache, "la_toy/test/toy_LA")[-1] == 12


@pytest.mark.slow
@pytest.mark.parametrize("config,save_exp", [
    ("la_trans_final.json:toy_trans", "la_toy/trans_test/toy_LA"),
    ("la_plc_trans_final.json:plc_trans_res18_LA", "la_pub/plc_trans_test/res18_LA")])
def test_transfer_writes_per_layer_table(chain, toy_record_dir, config, save_exp):
    cache = chain[0]
    extra = ["--load_exp", "la_toy/test/toy_LA", "--load_step", "10", "--train_num_steps", "14"]
    if config.startswith("la_plc"):  # the Places205 config, scaled to the toy backbone and its 10 classes
        extra += ["--num_classes", "10", "--width", "0.25", "--image_size", "32"]
    log = _cli("train_transfer.py", "exp_configs/" + config, toy_record_dir, cache, *extra)
    assert "Start training with global_step=10" in log
    folder = os.path.join(cache, "models", *save_exp.split("/"))
    with open(os.path.join(folder, "results.json")) as f:
        results = json.load(f)["results"]
    assert list(results) == ["1", "3", "5", "7", "9"]
    args, _ = parse_flags("train_transfer", ["--config", "exp_configs/" + config, "--image_dir", toy_record_dir,
                                             "--cache_dir", cache] + TINY + extra)
    want = ten_crop_top1(tf.train.latest_checkpoint(folder), toy_record_dir, args)
    assert {k: r["top1"] for k, r in results.items()} == pytest.approx(want, abs=1e-9)


def ten_crop_top1(checkpoint, record_dir, args):
    """Per-layer top-1 of ``checkpoint``'s heads, the softmax of the 10 crops averaged in numpy."""
    model = TransferModel(args.model_type, args.get_all_layers.split(","), args.num_classes, args.image_size,
                          args.width, "NHWC", vgg_quirk=args.vgg_quirk, feature_bn=args.head_bn)
    with tf.Graph().as_default():
        iterator = tf.data.make_initializable_iterator(make_validation_dataset(record_dir, args.test_batch_size,
                                                                                 args.image_size, ten_crop=True))
        image, label = iterator.get_next()[:2]
        with PredictTowerContext(""):
            logits = model.head_logits(tf.reshape(image, [-1] + list(model.image_shape)))
        with tf.Session() as sess:
            tf.train.Saver().restore(sess, checkpoint)
            sess.run(iterator.initializer)
            out = collections.defaultdict(list)
            while True:
                try:
                    batch = sess.run([logits, label])
                except tf.errors.OutOfRangeError:
                    break
                for name, lg in batch[0].items():
                    p = np.exp(lg - lg.max(1, keepdims=True))
                    p = (p / p.sum(1, keepdims=True)).reshape(len(batch[1]), 10, -1).mean(1)
                    out[name].append(np.argmax(p, 1) == batch[1])
    return {model.layer_keys[name]: float(np.mean(np.concatenate(hits))) for name, hits in out.items()}


def _error(capsys, main, argv):
    with pytest.raises(SystemExit) as e:
        cli.run(main, argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize("extra,message", [
    (["--load_exp", "la_toy/test/missing", "--load_step", "6"], "load_exp la_toy/test/missing: no checkpoint model-6"),
    (["--data_len", "1281167"], "data_len 1281167 differs from the 160 training images"),
    (["--kmeans_k", "10,300"], "kmeans_k 300 is outside [1, data_len=160]"),
    (["--gpu", "", "--cpu_towers", "2", "--batch_size", "63"],
     "--batch_size 63: must be a positive multiple of the 2 tower(s)"),
    (["--batch_size", "-2"], "--batch_size must be > 0, got -2"),
    (["--gpu", "a"], "--gpu a: expected comma-separated GPU ids")])
def test_bad_pretraining_input_is_one_error_line(capsys, toy_record_dir, tmp_path, extra, message):
    argv = ["--config", "exp_configs/la_final.json:toy_LA", "--image_dir", toy_record_dir,
            "--cache_dir", str(tmp_path), "--load_step", "6", "--kmeans_k", "8", "--instance_k", "64"]
    assert message in _error(capsys, train.main, argv + extra)
    assert not os.listdir(str(tmp_path))  # nothing written


def test_gpu_ids_beyond_the_machine(capsys, monkeypatch, toy_record_dir, tmp_path):
    monkeypatch.setattr(devices, "available_gpus", lambda: [0])
    argv = ["--config", "exp_configs/la_final.json:toy_IR", "--image_dir", toy_record_dir, "--gpu", "0,3",
            "--cache_dir", str(tmp_path)]
    assert "GPU 3 does not exist" in _error(capsys, train.main, argv)


def test_places_run_on_imagenet_records_is_refused(capsys, toy_record_dir, tmp_path):
    argv = ["--config", "exp_configs/la_plc_trans_final.json:plc_trans_res18_LA", "--image_dir", toy_record_dir,
            "--cache_dir", str(tmp_path)]
    assert "num_classes 205 differs from the 10 classes" in _error(capsys, train_transfer.main, argv)


@pytest.mark.slow
def test_la_reclusters_at_every_epoch_boundary_with_the_release_settings(chain, toy_record_dir, monkeypatch):
    """LA from step 6 to 17 with 5-step epochs (160 images, batch 32): k-means at the start and after steps 10
    and 15 (not at 17, where training ends), every run with 20 iterations, no subsampling and seed 1234 + r."""
    made, runs = [], []

    class RecordedClustering(faiss.Clustering):
        def __init__(self, *args):
            super(RecordedClustering, self).__init__(*args)
            made.append(self)

    real_run = clustering.run_kmeans

    def recorded_run(bank, ks, **kw):
        labels = real_run(bank, ks, **kw)
        runs.append(labels)
        return labels
    monkeypatch.setattr(faiss, "Clustering", RecordedClustering)
    monkeypatch.setattr(clustering, "run_kmeans", recorded_run)
    argv = ["--config", "exp_configs/la_final.json:toy_LA", "--image_dir", toy_record_dir, "--cache_dir", chain[0],
            "--exp_id", "toy_LA_epochs", "--load_step", "6", "--train_num_steps", "17", "--kmeans_k", "8,5",
            "--instance_k", "64", "--batch_size", "32", "--test_batch_size", "20", "--fre_cache_filter", "5",
            "--fre_valid", "100"]
    with tf.Graph().as_default():
        train.main(argv)
    assert len(runs) == 3 and all(r.shape == (2, 160) for r in runs)
    assert [(c.k, c.niter, c.max_points_per_centroid, c.seed) for c in made] == [(8, 20, 10000000, 1234),
                                                                                 (5, 20, 10000000, 1235)] * 3
    assert not np.array_equal(runs[0], runs[1]) and not np.array_equal(runs[1], runs[2])  # the bank moved
    folder = os.path.join(chain[0], "models", "la_toy", "test", "toy_LA_epochs")
    stored = tf.train.load_variable(tf.train.latest_checkpoint(folder), "instance/cluster_labels")
    np.testing.assert_array_equal(stored, runs[-1])
