"""End-to-end runs of instance_disc/main.py, cifar.py and show_neighbors.py on the toy records (tiny sizes)."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from common.tf1 import tf
from instance_disc import cifar, linear_eval, main, show_neighbors, toy_demo
from tests.test_instance_disc_tools import write_fake_cifar

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "exp_configs", "instance_disc.json") + ":toy"
# the release's flags, shrunk to the CPU: 32 px crops of a width-1/4 ResNet-18, 2 steps per epoch
TINY = ["--config", CONFIG, "--nce-k", "64", "--image-size", "32", "--set", "resize_size=36",
        "--set", "val_batch_size=20", "--steps-per-epoch", "2"]
RELEASE = ["--arch", "resnet18", "--nce-k", "64", "--nce-t", "0.07", "--nce-m", "0.5", "--low-dim", "128",
           "--lr", "0.03", "-b", "16", "--epochs", "1"]

pytestmark = pytest.mark.slow


def _bank(logdir):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(logdir))
    return reader.get_tensor("instance/memory_bank"), reader.get_tensor("instance/nce_z")


def _updated_rows(bank):
    # Updated rows are L2-normalised (|norm - 1| ~ 1e-7 in float32); an initial uniform row can come within a few
    # 1e-6 of norm 1 by chance (one toy row does: 4e-6), so the tolerance stays below that.
    return int(np.sum(np.abs(np.linalg.norm(bank, axis=1) - 1) < 1e-6))


@pytest.fixture(scope="module")
def trained(toy_record_dir, tmp_path_factory):
    """The release's training command through a subprocess: 1 epoch of 2 steps, NCE 64 negatives."""
    logdir = str(tmp_path_factory.mktemp("id") / "run")
    cmd = [sys.executable, "instance_disc/main.py", toy_record_dir] + RELEASE + TINY + ["--logdir", logdir]
    out = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "knn200_bank: top-1" in out.stdout and "epoch1_knn1_top1" in out.stdout
    return logdir


def test_release_training_command_writes_bank_z_and_knn(trained):
    bank, z = _bank(trained)
    assert bank.shape == (160, 128)
    # 2 steps x 16 indices (the reader's shuffle-after-repeat can repeat a few), the other rows still random
    assert 16 < _updated_rows(bank) <= 32
    assert z > 0  # estimated once from the first batch
    results = json.load(open(os.path.join(trained, "knn.json")))
    assert 0 <= results["knn200_bank"]["top1"] <= 1


def test_evaluate_only_and_resume(trained, toy_record_dir):
    results = main.main([toy_record_dir, "--resume", tf.train.latest_checkpoint(trained), "-e",
                         "--recompute-memory"] + TINY)
    assert set(results) == {"knn200_bank", "knn200_recomputed"}
    z_before = _bank(trained)[1]
    main.main([toy_record_dir, "--resume", trained] + RELEASE[:-1] + ["2"] + TINY)
    assert tf.train.latest_checkpoint(trained).endswith("model-4")
    bank, z_after = _bank(trained)
    assert z_after == z_before  # restored, never re-estimated
    assert _updated_rows(bank) > 32


@pytest.mark.parametrize("flags", [["--nce-k", "0"], ["--loss", "softmax_ce", "--nce-k", "64"]])
def test_full_softmax_and_softmax_ce_train(toy_record_dir, tmp_path, flags):
    logdir = str(tmp_path / "run")
    main.main([toy_record_dir, "-b", "16", "--epochs", "1", "--logdir", logdir] + TINY + flags)
    bank, z = _bank(logdir)
    assert 16 < _updated_rows(bank) <= 32 and z == -1  # Z belongs to NCE only


def test_two_towers_update_the_bank_once_with_the_global_batch(toy_record_dir, tmp_path):
    logdir = str(tmp_path / "run")
    main.main([toy_record_dir, "-b", "16", "--epochs", "1", "--cpu_towers", "2", "--logdir", logdir] + TINY
              + ["--steps-per-epoch", "1"])
    assert 8 < _updated_rows(_bank(logdir)[0]) <= 16  # both towers' rows, in one step


def _error(fn, argv, capsys):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        fn(argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()  # TensorPack's progress bar may come first
    assert [line for line in lines if line.startswith("error: ")] == lines[-1:]
    return lines[-1]


def test_bad_input_is_one_error_line_and_writes_nothing(toy_record_dir, trained, tmp_path, capsys):
    logdir = str(tmp_path / "new")
    assert "--nce-k 4096 is larger than the dataset" in _error(
        main.main, [toy_record_dir, "--logdir", logdir] + TINY + ["--nce-k", "4096"], capsys)
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
    assert "out of range" in _error(main.main, [other, "-b", "16", "--epochs", "1", "--logdir", logdir] + TINY
                                    + ["--nce-k", "8"], capsys)
    assert tf.train.latest_checkpoint(logdir) is None


def test_cifar_script_trains_and_tests_on_pickle_batches(tmp_path, capsys):  # default: the CIFAR stem
    data_dir = str(tmp_path / "cifar")
    write_fake_cifar(os.path.join(data_dir, "cifar-10-batches-py"), per_batch=8)
    logdir = str(tmp_path / "run")
    tiny = ["--set", "width=0.25", "--set", "batch_size=8", "--set", "val_batch_size=8",
            "--epochs", "1", "--steps-per-epoch", "2", "--logdir", logdir]
    results = cifar.main(["--data-dir", data_dir, "--nce-k", "0", "--nce-t", "0.1", "--lr", "0.03"] + tiny)
    assert {"epoch1_knn200_top1", "knn200_bank", "knn200_recomputed"} <= set(results)
    tested = cifar.main(["--data-dir", data_dir, "--resume", logdir, "--test-only"] + tiny[:-2])
    assert "knn200_recomputed" in tested
    assert "lacks the batch files data_batch_1" in _error(cifar.main, ["--data-dir", str(tmp_path)], capsys)


def test_neighbour_grid_script(trained, toy_record_dir, tmp_path):
    out = str(tmp_path / "nn.png")
    precision = show_neighbors.main([toy_record_dir, "--resume", trained, "--out", out, "--num-queries", "3"] + TINY)
    assert os.path.getsize(out) > 1000 and 0 <= precision <= 1


def test_linear_probe_script_on_endpoints(trained, toy_record_dir, tmp_path):
    results = linear_eval.main([toy_record_dir, "--resume", trained, "--layers", "conv4,pre_logits,embedding",
                                "--steps", "3", "--linear-batch-size", "16", "--out-dir", str(tmp_path)] + TINY)
    assert set(results) == {"conv4", "pre_logits", "embedding"}
    assert os.path.isfile(str(tmp_path / "results.png"))


def test_toy_demo_rows(toy_record_dir, tmp_path):
    rows = toy_demo.run(toy_record_dir, str(tmp_path), overrides={
        "nce_k": 64, "epochs": 1, "steps_per_epoch": 2, "image_size": 32, "resize_size": 36, "batch_size": 16,
        "val_batch_size": 20})
    assert [r["method"] for r in rows] == ["instance_disc NCE (resnet18)", "instance_disc random init (resnet18)"]
    assert all(0 <= r["knn_top1"] <= 1 for r in rows) and rows[0]["train_seconds"] > 0
    assert os.path.isfile(str(tmp_path / "neighbors.png"))
