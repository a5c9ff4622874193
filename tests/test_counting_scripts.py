"""The release's two README command lines through the real scripts on the toy records, resume, and bad input."""
import json
import math
import os
import subprocess
import sys

import pytest

from common.tf1 import tf
from counting import classifier_trn, counter_trn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = os.path.basename(ROOT)
README_CNT = ("--batch_size 256 --exp_name cnt_gpu4_bz256_adam_250 --net alexnet --learning_rate 0.0001 "
              "--gpu 0,1,2,3 --logits_dim 1000 --opt adam --epoch 250 --learning_rate_var_name lr_cnt "
              "--max_iters 1251").split()
README_CLS = ("--exp_name cls_gpu2_bz256_adam_250 --pretrained --cnt_exp_name cnt_gpu4_bz256_adam_250 "
              "--batch_size 256 --learning_rate 0.001 --opt adam --epoch 250 --net alexnet "
              "--learning_rate_var_nam lr_cls --gpu 0,1").split()


def _tiny(record_dir, ckpt_root, epochs=1):
    """Appended to a README line: toy data and geometry, tiny batch and epoch (later flags win in argparse)."""
    return ["--config", "exp_configs/counting.json:toy", "--data_dir", record_dir, "--ckpt_root", ckpt_root,
            "--reader", "tfdata", "--batch_size", "4", "--epoch", str(epochs), "--max_iters", "2"]


def _script(name, argv):
    env = dict(os.environ, PYTHONWARNINGS="ignore", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, os.path.join("counting", name)] + argv, cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


def _stats(exp_dir):
    with open(os.path.join(exp_dir, "stats.json")) as f:
        return json.load(f)


@pytest.mark.slow
def test_readme_command_lines_end_to_end(toy_record_dir, tmp_path):
    root = str(tmp_path / "ckpt")
    cnt_dir = os.path.join(root, PROJECT, "cnt_gpu4_bz256_adam_250")
    out = _script("counter_trn.py", README_CNT + _tiny(toy_record_dir, root))
    assert "4 tower(s) on the CPU" in out
    with open(os.path.join(cnt_dir, "args.json")) as f:
        args = json.load(f)
    assert (args["nr_gpu"], args["batch_size"], args["learning_rate_var_name"]) == (4, 4, "lr_cnt")
    first = _stats(cnt_dir)
    assert len(first) == 1 and first[0]["global_step"] == 2 and math.isfinite(first[0]["loss/loss"])
    assert {"loss/pair", "loss/unpair", "loss_sum", "loss_pair", "count/D_x", "count/T_x_4", "tile_distance_x_y",
            "opt/lr"} <= set(first[0])

    _script("counter_trn.py", README_CNT + _tiny(toy_record_dir, root, epochs=2))  # auto-resume: epoch 2 only
    assert [r["global_step"] for r in _stats(cnt_dir)] == [2, 4]

    cls_dir = os.path.join(root, PROJECT, "cls_gpu2_bz256_adam_250")
    out = _script("classifier_trn.py", README_CLS + _tiny(toy_record_dir, root))
    assert "top-1 per layer: conv1" in out
    record = _stats(cls_dir)[-1]
    accs = [record["val_top1_accuracy_conv%d" % k] for k in range(1, 6)]
    assert all(0.0 <= a <= 1.0 for a in accs)
    assert all(os.path.isfile(os.path.join(cls_dir, "probe_table." + e)) for e in ("json", "md", "png"))
    with open(os.path.join(cls_dir, "probe_table.md")) as f:
        assert "| conv3 |" in f.read()

    rnd_dir = os.path.join(root, PROJECT, "cls_random")
    _script("classifier_trn.py", ["--exp_name", "cls_random", "--random_features", "--gpu", "",
                                  "--learning_rate_var_name", "lr_cls"] + _tiny(toy_record_dir, root))
    assert "val_top1_accuracy_conv5" in _stats(rnd_dir)[-1]


def _error_line(main, argv, capsys):
    with tf.Graph().as_default(), pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    return lines[-1]


def test_bad_input_errors(toy_record_dir, tmp_path, capsys):
    root = str(tmp_path / "ckpt")
    base = ["--config", "exp_configs/counting.json:toy", "--ckpt_root", root, "--gpu", "", "--epoch", "1",
            "--max_iters", "1"]
    line = _error_line(counter_trn.main, base + ["--exp_name", "c", "--batch_size", "5"], capsys)
    assert "--batch_size 5" in line and "even" in line
    line = _error_line(counter_trn.main, base + ["--exp_name", "c", "--data_dir", str(tmp_path)], capsys)
    assert line.startswith("error: --data_dir: ") and str(tmp_path) in line
    line = _error_line(classifier_trn.main, base + ["--exp_name", "p", "--pretrained", "--cnt_exp_name", "nope",
                                                    "--data_dir", toy_record_dir], capsys)
    assert line.startswith("error: --cnt_exp_name") and "nope" in line
    line = _error_line(classifier_trn.main, base + ["--exp_name", "p", "--data_dir", toy_record_dir], capsys)
    assert "--pretrained" in line and "--random_features" in line
    foreign = os.path.join(root, PROJECT, "foreign")
    os.makedirs(foreign)
    with tf.Graph().as_default():
        tf.get_variable("alexnet_v2/conv1/W", [5, 5, 3, 64])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, os.path.join(foreign, "model-10"))
    line = _error_line(classifier_trn.main, base + ["--exp_name", "p2", "--pretrained", "--cnt_exp_name", "foreign",
                                                    "--data_dir", toy_record_dir, "--reader", "tfdata"], capsys)
    assert line.startswith("error: checkpoint") and "not a counting AlexNet" in line


@pytest.mark.slow
def test_toy_demo_runs_both_feature_sets(toy_record_dir, tmp_path, capsys):
    from counting import toy_demo
    from counting.flags import CONFIG_FILE
    tiny = {"batch_size": 4, "epoch": 1, "max_iters": 2, "opt": "adam", "reader": "tfdata"}
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"tiny": {
        "base": CONFIG_FILE + ":toy",
        "counter": dict(tiny, learning_rate=3e-4, logits_dim=16, learning_rate_var_name="lr_cnt"),
        "classifier": dict(tiny, learning_rate=3e-3, learning_rate_var_name="lr_cls")}}))
    rows = toy_demo.run(toy_record_dir, str(tmp_path / "work"), config=str(config) + ":tiny")
    assert [r["method"].split(" ")[0] for r in rows] == ["counting", "random-init"]
    assert all(0.0 <= r["linear_top1"] <= 1.0 and r["train_seconds"] > 0 for r in rows)
    out = capsys.readouterr().out
    assert "counting loss at the end of each epoch" in out and "| conv1 |" in out
    assert os.path.isfile(str(tmp_path / "work" / "probe_table.png"))
