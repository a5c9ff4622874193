"""The release's two README command lines through the real scripts with the default reader (DALI, on the CPU
here) on the toy records: resume, validation accuracy recomputed from the saved checkpoint, and bad input."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from tensorpack.tfutils.tower import TowerContext

from common import cli
from common.data.input import dali_available
from common.tf1 import tf
from counting import classifier_trn, counter_trn
from counting.data import counting_dataset, val_augment
from counting.flags import DEFAULT_CONFIG
from counting.probe_model import LAYERS, CountingProbeModel
from test_counting_flags import README_CLS, README_CNT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = os.path.basename(ROOT)
TOY_GEOMETRY = {"image_size": 96, "resize_size": 96, "crop_scale": [0.35, 1.0], "pool_sizes": [6, 3, 2, 2, 2]}


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    """The release's settings (reader included) at the toy images' 96 px geometry."""
    path = tmp_path_factory.mktemp("cfg") / "tiny.json"
    path.write_text(json.dumps({"tiny": dict(TOY_GEOMETRY, base=DEFAULT_CONFIG)}))
    return str(path) + ":tiny"


def _tiny(config, record_dir, ckpt_root, towers, epochs=1, max_iters=("--max_iters", "2")):
    """Appended to a README line (later flags win): toy data, tiny batch and epoch, CPU towers for its GPUs
    (phase 2 takes its steps per epoch from the data: ``max_iters=()``)."""
    return ["--config", config, "--data_dir", record_dir, "--ckpt_root", ckpt_root, "--batch_size", "4",
            "--epoch", str(epochs), "--gpu", "", "--cpu_towers", str(towers)] + list(max_iters)


def _script(name, argv):
    env = dict(os.environ, PYTHONWARNINGS="ignore", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, os.path.join("counting", name)] + argv, cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


def _stats(exp_dir):
    with open(os.path.join(exp_dir, "stats.json")) as f:
        return json.load(f)


def _checkpoint_value(exp_dir, name):
    return tf.train.load_variable(tf.train.latest_checkpoint(exp_dir), name)


def _validation_accuracy(ckpt, record_dir, num_classes):
    """Top-1 accuracy per layer of checkpoint ``ckpt``'s heads over the validation split, from their logits."""
    cfg = dict(TOY_GEOMETRY)
    with tf.Graph().as_default():
        ds = counting_dataset(record_dir, "validation", 4, val_augment(cfg["image_size"], cfg["resize_size"]), "dali",
                              train=False)
        it = tf.data.make_initializable_iterator(ds)
        images, labels, index = it.get_next()
        model = CountingProbeModel(96, num_classes, cfg["pool_sizes"], "adam")
        with TowerContext("", is_training=False):
            model.build_graph(images, labels, index)
        logits = [tf.get_default_graph().get_tensor_by_name("logits-%s:0" % k) for k in LAYERS]
        saver = tf.train.Saver([v for v in tf.global_variables() if v.op.name != "lr_cls"])
        hits, total = np.zeros(len(LAYERS)), 0
        with tf.Session() as sess:
            saver.restore(sess, ckpt)
            sess.run(it.initializer)
            while True:
                try:
                    values, truth = sess.run([logits, labels])
                except tf.errors.OutOfRangeError:
                    break
                hits += [np.sum(np.argmax(v, axis=1) == truth) for v in values]
                total += len(truth)
    return dict(zip(LAYERS, hits / total)), total


@pytest.mark.slow
def test_readme_command_lines_end_to_end(toy_record_dir, tiny_config, tmp_path):
    root = str(tmp_path / "ckpt")
    cnt_dir = os.path.join(root, PROJECT, "cnt_gpu4_bz256_adam_250")
    out = _script("counter_trn.py", README_CNT + _tiny(tiny_config, toy_record_dir, root, towers=2))
    assert "2 tower(s) on the CPU" in out
    assert "Training input: the %s reader" % ("dali" if dali_available() else "tfdata") in out  # the plugin: CI
    with open(os.path.join(cnt_dir, "args.json")) as f:
        args = json.load(f)
    assert (args["nr_gpu"], args["batch_size"], args["learning_rate_var_name"], args["reader"]) == (
        2, 4, "lr_cnt", "dali")
    first = _stats(cnt_dir)
    assert len(first) == 1 and first[0]["global_step"] == 2 and math.isfinite(first[0]["loss/loss"])
    assert {"loss/pair", "loss/unpair", "loss_sum", "loss_pair", "count/D_x", "count/T_x_4", "tile_distance_x_y",
            "opt/lr"} <= set(first[0])
    assert _checkpoint_value(cnt_dir, "beta1_power") == pytest.approx(0.9 ** 3)  # Adam after 2 steps

    _script("counter_trn.py", README_CNT + _tiny(tiny_config, toy_record_dir, root, towers=2, epochs=2))
    assert [r["global_step"] for r in _stats(cnt_dir)] == [2, 4]  # auto-resume: epoch 2 only
    # the resumed run started from the saved optimizer state: 4 Adam steps in all, not 2 from a fresh start
    assert _checkpoint_value(cnt_dir, "beta1_power") == pytest.approx(0.9 ** 5)

    cls_dir = os.path.join(root, PROJECT, "cls_gpu2_bz256_adam_250")
    out = _script("classifier_trn.py", README_CLS + _tiny(tiny_config, toy_record_dir, root, towers=2, max_iters=()))
    assert "top-1 per layer: conv1" in out
    assert _stats(cls_dir)[-1]["global_step"] == 20  # phase 2: 160 images // (4 x 2 towers), as the release
    logged = {k: _stats(cls_dir)[-1]["val_top1_accuracy_" + k] for k in LAYERS}
    recomputed, count = _validation_accuracy(tf.train.latest_checkpoint(cls_dir), toy_record_dir, 10)
    assert count == 40  # every validation image, the last batch included
    for k in LAYERS:  # the logged value is the accuracy of the saved heads, not the error
        assert logged[k] == pytest.approx(recomputed[k], abs=1e-6)
    # the probes read conv1..5 of the counting checkpoint, which the classifier run does not change
    np.testing.assert_array_equal(_checkpoint_value(cls_dir, "alexnet_v2/conv3/W"),
                                  _checkpoint_value(cnt_dir, "alexnet_v2/conv3/W"))
    with open(os.path.join(cls_dir, "probe_table.json")) as f:
        table = json.load(f)["columns"]["cls_gpu2_bz256_adam_250"]
    assert table == pytest.approx(logged)

    logdir = str(tmp_path / "random_probe")  # --logdir replaces the experiment directory
    _script("classifier_trn.py", ["--exp_name", "cls_random", "--random_features", "--learning_rate_var_name",
                                  "lr_cls", "--logdir", logdir] + _tiny(tiny_config, toy_record_dir, root, towers=1,
                                                                        max_iters=()))
    assert "val_top1_accuracy_conv5" in _stats(logdir)[-1]
    assert not os.path.exists(os.path.join(root, PROJECT, "cls_random"))
    assert not np.array_equal(_checkpoint_value(logdir, "alexnet_v2/conv3/W"),
                              _checkpoint_value(cnt_dir, "alexnet_v2/conv3/W"))


def _error_line(main, argv, capsys):
    with tf.Graph().as_default(), pytest.raises(SystemExit) as exc:
        cli.run(main, argv)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    return lines[-1]


def test_bad_input_errors(toy_record_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
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
    phase_2 = base[:-2]  # no --max_iters: phase 2 takes it from the data
    line = _error_line(classifier_trn.main, phase_2 + ["--exp_name", "p2", "--pretrained", "--cnt_exp_name",
                                                       "foreign", "--data_dir", toy_record_dir, "--reader", "tfdata"],
                       capsys)
    assert line.startswith("error: checkpoint") and "not a counting AlexNet" in line
    line = _error_line(classifier_trn.main, base + ["--exp_name", "p3", "--random_features", "--data_dir",
                                                    toy_record_dir, "--reader", "tfdata"], capsys)
    assert line == ("error: --max_iters 1: phase 2 takes its steps per epoch from the data, as the release does: "
                    "160 train images // (--batch_size 64 x 1 tower(s)) = 2; drop --max_iters")


@pytest.mark.slow
def test_toy_demo_runs_both_feature_sets(toy_record_dir, tmp_path, capsys):
    from counting import toy_demo
    from counting.flags import CONFIG_FILE
    tiny = {"batch_size": 4, "epoch": 1, "opt": "adam", "reader": "tfdata"}
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"tiny": {
        "base": CONFIG_FILE + ":toy",
        "counter": dict(tiny, max_iters=2, learning_rate=3e-4, logits_dim=16, learning_rate_var_name="lr_cnt"),
        "classifier": dict(tiny, learning_rate=3e-3, learning_rate_var_name="lr_cls")}}))
    work = tmp_path / "work"
    rows = toy_demo.run(toy_record_dir, str(work), config=str(config) + ":tiny")
    assert [r["method"].split(" ")[0] for r in rows] == ["counting", "random-init"]
    project = os.path.join(str(work / "ckpt"), PROJECT)
    with open(str(work / "probe_table.json")) as f:
        table = json.load(f)["columns"]
    for row, exp, column in zip(rows, ("cls_toy", "cls_toy_random"), ("counting (toy)", "random frozen (toy)")):
        logged = {k: _stats(os.path.join(project, exp))[-1]["val_top1_accuracy_" + k] for k in LAYERS}
        assert table[column] == pytest.approx(logged)  # the table shows each run's last validation
        assert row["linear_top1"] == pytest.approx(max(logged.values()))
    curve = toy_demo.loss_curve(os.path.join(project, "cnt_toy"))
    out = capsys.readouterr().out
    assert "1: %.2f = %.2f + %.2f" % curve[0][1:] in out and "| conv1 |" in out
