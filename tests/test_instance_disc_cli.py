"""End-to-end runs of instance_disc/main.py, cifar.py, show_neighbors.py and the toy demo on the toy records
(tiny sizes): the rate applied in each epoch, bank rows, resume, kNN history, one-line errors."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from common import cli
from common.data.records import read_meta
from common.tf1 import tf
from instance_disc import cifar, linear_eval, main, show_neighbors, toy_demo
from instance_disc.flags import CONFIG_FILE, parse_flags, record_input
from instance_disc.inputs import record_data
from instance_disc.runner import evaluate, one_line_errors
from tests.test_instance_disc_tools import write_fake_cifar

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = CONFIG_FILE + ":toy"
# the release's flags, shrunk to the CPU: 32 px crops of a width-1/4 ResNet-18, 1 step per epoch, the decays
# scaled from the release's 0-based epochs 120 and 160 to 1 and 2; seeded, so the random initial bank is the same
# in every run (``_updated_rows`` tells updated rows by their unit norm, which a random row can come close to)
TINY = ["--config", CONFIG, "--nce-k", "64", "--image-size", "32", "--set", "resize_size=36",
        "--set", "val_batch_size=20", "--steps-per-epoch", "1", "--set", "lr_decay_epochs=[1,2]", "--seed", "0"]
RELEASE = ["--arch", "resnet18", "-j", "32", "--nce-k", "64", "--nce-t", "0.07", "--nce-m", "0.5", "--low-dim",
           "128", "--lr", "0.03", "-b", "16", "-p", "1", "--epochs", "3"]

pytestmark = pytest.mark.slow


def run_script(script, argv):
    """What entry script ``script``'s ``run`` returns for ``argv`` (its ``main`` prints it and returns None)."""
    return one_line_errors(script.run, *parse_flags(script.__name__.rsplit(".", 1)[1], argv))


def _bank(logdir):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(logdir))
    return reader.get_tensor("instance/memory_bank"), reader.get_tensor("instance/nce_z")


def _updated_rows(bank):
    # Updated rows are L2-normalised (|norm - 1| ~ 1e-7 in float32); an initial uniform row can come within a few
    # 1e-6 of norm 1 by chance (one toy row does: 4e-6), so the tolerance stays below that.
    return int(np.sum(np.abs(np.linalg.norm(bank, axis=1) - 1) < 1e-6))


def _rates(logdir):
    """The learning rate of the last step of each epoch, from stats.json (summaries run with that step)."""
    stats = json.load(open(os.path.join(logdir, "stats.json")))
    return [(s["epoch_num"], s["learning_rate"]) for s in stats]


def _release_rate(lr, epoch, boundaries):
    """The release's rate in 1-based ``epoch``: lr x 0.1 from each 0-based boundary epoch on."""
    return lr * 0.1 ** sum(epoch - 1 >= b for b in boundaries)


@pytest.fixture(scope="module")
def trained(toy_record_dir, tmp_path_factory):
    """The release's training command through a subprocess: 3 epochs of 1 step, NCE 64 negatives."""
    logdir = str(tmp_path_factory.mktemp("id") / "run")
    cmd = [sys.executable, "instance_disc/main.py", toy_record_dir] + RELEASE + TINY + ["--logdir", logdir]
    out = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "knn200_bank: top-1" in out.stdout and "epoch3_knn1_top1" in out.stdout
    assert "Epoch: [2][1/1]\tLoss" in out.stdout  # -p 1: the loss of every step
    return logdir


def test_release_training_decays_the_rate_at_the_release_epochs(trained):
    got = _rates(trained)
    assert [e for e, _ in got] == [1, 2, 3]
    for epoch, rate in got:
        assert rate == pytest.approx(_release_rate(0.03, epoch, [1, 2]), rel=1e-6)


def test_release_training_writes_bank_z_and_knn(trained):
    bank, z = _bank(trained)
    assert bank.shape == (160, 128)
    assert _updated_rows(bank) == 48  # 3 steps x 16 distinct indices of one epoch; the other rows still random
    assert z > 0  # estimated once from the first batch
    results = json.load(open(os.path.join(trained, "knn.json")))
    assert sorted(k for k in results if k.startswith("epoch")) == ["epoch%d_knn1_top1" % e for e in (1, 2, 3)]


def test_evaluate_only_and_resume_keeps_the_history(trained, toy_record_dir):
    results = run_script(main, [toy_record_dir, "--resume", tf.train.latest_checkpoint(trained), "-e",
                                "--recompute-memory"] + TINY)
    assert set(results) == {"knn200_bank", "knn200_recomputed"}
    z_before = _bank(trained)[1]
    # the data path spelled relative and a lower lr (a user's remedy after a NaN) still resume the same run
    relative = os.path.relpath(toy_record_dir)
    results = run_script(main, [relative, "--resume", trained] + RELEASE[:-1] + ["4", "--lr", "0.01"] + TINY
                         + ["--seed", "1"])  # a resumed run restarts its input stream: another seed, other rows
    assert tf.train.latest_checkpoint(trained).endswith("model-4")
    bank, z_after = _bank(trained)
    assert z_after == z_before  # restored, never re-estimated
    assert _updated_rows(bank) > 48
    history = ["epoch%d_knn1_top1" % e for e in (1, 2, 3, 4)]
    assert sorted(k for k in results if k.startswith("epoch")) == history
    assert sorted(k for k in json.load(open(os.path.join(trained, "knn.json"))) if k.startswith("epoch")) == history
    assert _rates(trained)[-1] == (4, pytest.approx(0.0001, rel=1e-6))  # the new lr's schedule at epoch 4


def test_resume_of_another_experiment_names_the_key(trained, toy_record_dir, capsys):
    line = _error(main.main, [toy_record_dir, "--resume", trained] + RELEASE + TINY + ["--nce-t", "0.2"], capsys)
    assert "nce_t" in line


def test_knn_against_the_same_images_is_perfect(trained, toy_record_dir):
    _, cfg = parse_flags("main", [toy_record_dir] + TINY + ["--set", "knn_k=1"])
    data = record_data(toy_record_dir, read_meta(toy_record_dir), record_input(cfg))
    same = data._replace(val=data.train_eval)  # queries = the training images under the test transform
    results = evaluate(cfg, same, tf.train.latest_checkpoint(trained), recompute=True)
    assert results["knn1_recomputed"]["top1"] == 1.0
    assert results["knn1_bank"]["top1"] < 1.0  # the bank holds training-time views and random rows


@pytest.mark.parametrize("flags", [["--nce-k", "0"], ["--loss", "softmax_ce", "--nce-k", "64"]])
def test_full_softmax_and_softmax_ce_train(toy_record_dir, tmp_path, flags):
    logdir = str(tmp_path / "run")
    main.main([toy_record_dir, "-b", "16", "--epochs", "2", "--logdir", logdir] + TINY + flags)
    bank, z = _bank(logdir)
    assert _updated_rows(bank) == 32 and z == -1  # Z belongs to NCE only


def test_two_towers_update_the_bank_once_with_the_global_batch(toy_record_dir, tmp_path):
    logdir = str(tmp_path / "run")
    main.main([toy_record_dir, "-b", "16", "--epochs", "1", "--cpu_towers", "2", "--logdir", logdir] + TINY)
    bank, z = _bank(logdir)
    assert _updated_rows(bank) == 16 and z > 0  # both towers' rows, in one step


def _error(fn, argv, capsys):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.run(fn, argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()  # TensorPack's progress bar may come first
    assert [line for line in lines if line.startswith("error: ")] == lines[-1:]
    return lines[-1]


def test_bad_input_is_one_error_line_and_writes_nothing(toy_record_dir, trained, tmp_path, capsys):
    logdir = str(tmp_path / "new")
    assert "--nce-k 4096 is larger than the dataset" in _error(
        main.main, [toy_record_dir, "--logdir", logdir] + TINY + ["--nce-k", "4096"], capsys)
    assert "-b 256 is larger than the dataset" in _error(
        main.main, [toy_record_dir, "--logdir", logdir] + TINY + ["-b", "256"], capsys)
    assert "GPU 7 does not exist" in _error(main.main, [toy_record_dir, "--gpu", "7"] + TINY, capsys)
    bad_config = str(tmp_path / "bad.json")
    json.dump({"toy": {"base": "x"}, "x": {"lr": 0.1, "nce_kk": 5}}, open(bad_config, "w"))
    line = _error(main.main, [toy_record_dir, "--config", bad_config + ":toy"], capsys)
    assert "unknown key 'nce_kk'" in line and "nce_k, nce_t" in line
    assert not os.path.exists(logdir)
    other = str(tmp_path / "other_records")
    shutil.copytree(toy_record_dir, other)
    meta = json.load(open(os.path.join(other, "meta.json")))
    meta["splits"]["train"] = 100
    json.dump(meta, open(os.path.join(other, "meta.json"), "w"))
    ckpt = tf.train.latest_checkpoint(trained)
    stamp = os.path.getmtime(ckpt + ".index")
    assert "memory bank has 160 rows but" in _error(main.main, [other, "--resume", ckpt] + TINY, capsys)
    assert os.path.getmtime(ckpt + ".index") == stamp
    assert "meta.json says 100" in _error(main.main, [other, "-b", "16", "--epochs", "1", "--logdir", logdir] + TINY
                                    + ["--nce-k", "8"], capsys)
    assert tf.train.latest_checkpoint(logdir) is None
    garbled = str(tmp_path / "garbled_records")
    shutil.copytree(toy_record_dir, garbled)
    shard = os.path.join(garbled, "train-00001-of-00002")
    data = bytearray(open(shard, "rb").read())
    data[len(data) // 2:len(data) // 2 + 100] = bytes(100)
    open(shard, "wb").write(bytes(data))
    line = _error(main.main, [garbled, "-b", "16", "--epochs", "1", "--logdir", str(tmp_path / "g")] + TINY
                  + ["--steps-per-epoch", "10"], capsys)
    assert line.startswith("error: TFRecord shard %s is corrupt (corrupted record at" % shard)


def test_cifar_script_trains_and_tests_on_pickle_batches(tmp_path, capsys):  # default: the CIFAR stem
    data_dir = str(tmp_path / "cifar")
    write_fake_cifar(os.path.join(data_dir, "cifar-10-batches-py"), per_batch=8)
    logdir = str(tmp_path / "run")
    tiny = ["--set", "width=0.25", "--set", "batch_size=8", "--set", "val_batch_size=8", "--set",
            "lr_decay_epochs=[1]", "--epochs", "2", "--steps-per-epoch", "1", "--logdir", logdir]
    results = run_script(cifar, ["--data-dir", data_dir, "--nce-k", "0", "--nce-t", "0.1", "--lr", "0.03"] + tiny)
    assert {"epoch2_knn200_top1", "knn200_bank", "knn200_recomputed"} <= set(results)
    assert _rates(logdir) == [(1, pytest.approx(0.03)), (2, pytest.approx(0.003))]
    tested = run_script(cifar, ["--data-dir", data_dir, "--resume", logdir, "--test-only"] + tiny[:-2])
    assert tested["knn200_recomputed"] == results["knn200_recomputed"]  # the same weights, the same features
    assert "lacks the batch files data_batch_1" in _error(cifar.main, ["--data-dir", str(tmp_path)], capsys)


def test_neighbour_grid_shows_each_query_and_its_bank_neighbours(trained, toy_record_dir, tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr(show_neighbors, "draw_neighbor_grid", lambda path, *a, **kw: drawn.update(a=a, kw=kw))
    precision = run_script(show_neighbors, [toy_record_dir, "--resume", trained, "--out", str(tmp_path / "nn.png"),
                                            "--num-queries", "3", "--top", "4"] + TINY)
    queries, query_labels, neighbours, neighbour_labels, _ = drawn["a"]
    ckpt = tf.train.latest_checkpoint(trained)
    reader = tf.train.load_checkpoint(ckpt)
    bank, bank_labels = reader.get_tensor("instance/memory_bank"), reader.get_tensor("instance/all_labels")
    _, cfg = parse_flags("main", [toy_record_dir] + TINY)
    data = record_data(toy_record_dir, read_meta(toy_record_dir), record_input(cfg))
    feats, labels, indices = show_neighbors.restored_features(show_neighbors.InstanceDiscModel(cfg, 160, 32), ckpt,
                                                              data.val)
    chosen = np.random.RandomState(0).choice(len(feats), 3, replace=False)
    want = np.argsort(-(feats[chosen] @ bank.T), axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(neighbour_labels, bank_labels[want])
    np.testing.assert_array_equal(query_labels, labels[chosen])
    # the first column is the query itself, the others are the training images of the neighbour rows
    val_images = show_neighbors.read_images(toy_record_dir, "validation", indices[chosen], 96)
    train_images = show_neighbors.read_images(toy_record_dir, "train", want.ravel(), 96)
    np.testing.assert_array_equal(queries, np.stack([val_images[int(i)] for i in indices[chosen]]))
    np.testing.assert_array_equal(neighbours[1, 2], train_images[int(want[1, 2])])
    assert precision == pytest.approx(np.mean(bank_labels[want] == labels[chosen][:, None]))


def test_linear_probe_script_on_endpoints(trained, toy_record_dir, tmp_path):
    results = run_script(linear_eval, [toy_record_dir, "--resume", trained, "--layers", "conv4,pre_logits,embedding",
                                       "--steps", "3", "--linear-batch-size", "16", "--out-dir", str(tmp_path)] + TINY)
    assert set(results) == {"conv4", "pre_logits", "embedding"}
    saved = json.load(open(str(tmp_path / "results.json")))
    assert saved["results"]["embedding"]["top1"] == pytest.approx(results["embedding"]["top1"])


def test_toy_demo_rows_are_the_runs_figures(toy_record_dir, tmp_path):
    rows = toy_demo.run(toy_record_dir, str(tmp_path), overrides={
        "nce_k": 64, "epochs": 1, "steps_per_epoch": 2, "image_size": 32, "resize_size": 36, "batch_size": 16,
        "val_batch_size": 20})
    assert [r["method"] for r in rows] == ["instance_disc NCE (resnet18)", "instance_disc random init (resnet18)"]
    knn = json.load(open(str(tmp_path / "train" / "knn.json")))
    assert rows[0]["knn_top1"] == knn["knn200_recomputed"]["top1"]
    assert tf.train.latest_checkpoint(str(tmp_path / "train")).endswith("model-2")
    assert _updated_rows(_bank(str(tmp_path / "train"))[0]) == 32
