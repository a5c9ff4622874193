"""revisiting/train_and_eval.py: every documented command line parses; bad input is one error line; end to end on
the toy records, a trained rotation model beats its untrained copy and the linear evaluation resumes and
re-evaluates to the same numbers."""
import glob
import json
import os
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

from common import cli
from common.tf1 import tf
from revisiting import rotation, train_and_eval
from revisiting.data import make_input, preprocess_fn
from revisiting.flags import CONFIG_FILE, FLAGS, parse_flags, preprocessing_of
from revisiting.net import get_net
from revisiting.preprocess import Preprocessing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = "exp_configs/revisiting.json"


def documented_command_lines():
    """(name, argv) of every command line in revisiting/README.md and the launchers' usage lines; a launcher
    ``revisiting/config/X.sh ARGS`` becomes ``--config exp_configs/revisiting.json:<its key> ARGS``."""
    launchers = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "revisiting", "config", "*", "*.sh"))):
        text = open(path).read()
        rel = os.path.relpath(path, ROOT)
        launchers[rel] = re.search(r"revisiting\.json:(\w+)", text).group(1)
        usage = re.search(r"# Usage: (\S+) (.*)", text).group(2)
        yield rel, ["--config", "%s:%s" % (CONFIG, launchers[rel])] + shlex.split(
            re.sub(r"\[[^\]]*\]", "", usage).replace("DIR", "w").replace("RECORDS", "d"))
    readme = open(os.path.join(ROOT, "revisiting", "README.md")).read().replace("\\\n", " ")
    for line in readme.splitlines():
        command = line.startswith("    ") and line.split()[0] in ["python"] + list(launchers)
        words = shlex.split(line.strip()) if command else []
        if words[:2] == ["python", "revisiting/train_and_eval.py"]:
            yield "README: " + " ".join(words[2:6]), words[2:]
        elif words and words[0] in launchers:
            yield "README: " + words[0], ["--config", "%s:%s" % (CONFIG, launchers[words[0]])] + words[1:]


COMMANDS = list(documented_command_lines())


def test_every_documented_command_line_is_found():
    names = [n for n, _ in COMMANDS]
    assert len([n for n in names if n.startswith("revisiting/config/")]) == 7
    assert any("--last_relu" in argv for _, argv in COMMANDS)  # the release's absl-style boolean
    assert len(names) >= 12


@pytest.mark.parametrize("name,argv", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_documented_command_line_parses(name, argv):
    args, cfg = parse_flags("train_and_eval", argv)
    assert cfg["task"] in ("rotation", "jigsaw", "relative_patch_location", "exemplar", "supervised", "linear_eval")
    assert args.logdir and cfg["dataset_dir"]


def test_booleans_absl_style_and_precedence():
    base = ["--config", CONFIG + ":rotation", "--workdir", "w", "--dataset_dir", "d"]
    assert parse_flags("train_and_eval", base)[1]["last_relu"] is True
    for extra, want in ((["--last_relu", "False"], False), (["--last_relu=false"], False), (["--nolast_relu"], False),
                        (["--last_relu", "True"], True), (["--last_relu"], True)):
        assert parse_flags("train_and_eval", base + ["--set", "last_relu=true"] + extra)[1]["last_relu"] is want
    # --set over the config
    assert parse_flags("train_and_eval", base + ["--set", "last_relu=false"])[1]["last_relu"] is False
    args, cfg = parse_flags("train_and_eval", base + ["--set", "batch_size=8", "--batch_size", "16", "--run_eval",
                                                      "True", "--num_gpus", "2"])
    assert cfg["batch_size"] == 16 and args.run_eval is True and args.gpu == "0,1"
    assert parse_flags("train_and_eval", base[:2] + ["--logdir", "w2", "--dataset_dir", "d"])[0].logdir == "w2"
    assert {f.name for f in FLAGS} >= set(json.load(open(CONFIG_FILE))["rotation"]) - {"base"}


def test_parse_flags_of_train_and_eval():
    """A flag, a --set and a --config value land in cfg; the launch, device and --workdir flags in args."""
    args, cfg = parse_flags("train_and_eval", ["--config", CONFIG + ":jigsaw", "--set", "patch_jitter=5",
                                               "--lr", "0.5", "--workdir", "w", "--dataset_dir", "d",
                                               "--num_gpus", "2", "--run_eval"])
    assert (cfg["lr"], cfg["patch_jitter"], cfg["splits_per_side"], cfg["task"]) == (0.5, 5, 3, "jigsaw")
    assert cfg["dataset_dir"] == "d" and "run_eval" not in cfg and "logdir" not in cfg
    assert (args.logdir, args.run_eval, args.gpu, args.lr) == ("w", True, "0,1", 0.5)
    assert preprocessing_of(cfg) == Preprocessing(
        "resize,to_gray,crop,crop_patches,standardization", resize_size="292,292", crop_size="255", splits_per_side=3,
        patch_jitter=5, grayscale_probability=0.66, randomize_resize_method=False)


def run_main(argv, capsys):
    """(exit status, stderr lines) of ``cli.run(train_and_eval.main, argv)``."""
    with pytest.raises(SystemExit) as e:
        cli.run(train_and_eval.main, argv)
    return e.value.code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("flags,message", [
    (["--config", CONFIG + ":rotation", "--preprocessing", "inception_preprocess,rotat"],
     "unknown preprocessing op 'rotat'"),
    (["--config", CONFIG + ":jigsaw", "--crop_size", "40", "--resize_size", "40"],
     "too small for splits_per_side=3 with patch_jitter=21"),
    (["--config", CONFIG + ":rotation", "--filters_factor", "7"],
     "--filters_factor 7 is not supported by --architecture revnet50"),
    (["--config", CONFIG + ":exemplar", "--preprocessing", "to_gray,inception_preprocess"],
     "exemplar needs 'crop_inception_preprocess_patches'"),
    (["--config", CONFIG + ":rotation", "--task", "colorize"], "--task 'colorize'"),
    (["--config", CONFIG + ":nope"], "has no key 'nope'"),
    (["--config", CONFIG + ":rotation", "--set", "colour=1"], "colour"),
    (["--config", CONFIG + ":rotation", "--last_relu", "maybe"], "expected True or False, got 'maybe'"),
    (["--config", CONFIG + ":rotation", "--gpu", "7"], "GPU 7 does not exist"),
    (["--config", CONFIG + ":rotation", "--use_tpu"], "--use_tpu: TPUs are not supported"),
])
def test_bad_input_is_one_error_line(flags, message, tmp_path, capsys):
    status, err = run_main(flags + ["--workdir", str(tmp_path), "--dataset_dir", str(tmp_path)], capsys)
    assert status == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert os.listdir(str(tmp_path)) == []


def test_unknown_config_key_lists_the_valid_ones(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"run": {"task": "rotation", "colour": 1}}))
    status, err = run_main(["--config", "%s:run" % path, "--workdir", str(tmp_path / "w"), "--dataset_dir", "d"],
                           capsys)
    assert status == 2 and len(err) == 1 and "unknown key 'colour'" in err[0] and "last_relu" in err[0], err


TOY_ROTATION = ["--config", CONFIG + ":toy_rotation", "--resize_size", "32,32", "--serving_input_shape",
                "None,32,32,3", "--train_split", "val", "--val_split", "val", "--batch_size", "4",
                "--eval_batch_size", "4", "--lr_scale_batch_size", "4", "--lr", "0.003", "--epochs", "60.5",
                "--decay_epochs", "60", "--gpu", ""]


def rotation_accuracy(cfg, record_dir, checkpoint):
    """4-way accuracy on the first training batch (BN on batch statistics), of ``checkpoint`` or, None, of a
    freshly initialised copy."""
    with tf.Graph().as_default(), tf.Session() as sess:
        image, label = tf.data.make_one_shot_iterator(make_input(
            record_dir, cfg["train_split"], 4, preprocess_fn(preprocessing_of(cfg), False), False)).get_next()
        net = get_net(cfg["architecture"], cfg["filters_factor"], cfg["mode"], cfg["last_relu"], 0.0, "rotation")
        out = rotation.model_fn({"image": image, "label": label}, True, net, cfg)
        sess.run(tf.global_variables_initializer())
        if checkpoint:
            tf.train.Saver([v for v in tf.global_variables() if v.op.name.startswith("module/")]).restore(
                sess, checkpoint)
        logits, labels = sess.run([out["logits"], out["labels"]])
    return float(np.mean(logits.argmax(1) == labels))


def head_top1(results_dir, module, record_dir, argv):
    """Top-1 of the ``pre_logits`` head recomputed in numpy from the exported module and the head checkpoint."""
    _, cfg = parse_flags("train_and_eval", argv)
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(results_dir))
    w, b = reader.get_tensor("linear/pre_logits/W"), reader.get_tensor("linear/pre_logits/b")
    with tf.Graph().as_default(), tf.Session() as sess:
        meta = tf.saved_model.load(sess, [tf.saved_model.tag_constants.SERVING], module)
        rep = meta.signature_def["representation"]
        pp = preprocess_fn(preprocessing_of(cfg), False)
        nxt = tf.data.make_one_shot_iterator(make_input(record_dir, "test", 10, pp, False)).get_next()
        hits = []
        while True:
            try:
                image, label = sess.run(nxt)
            except tf.errors.OutOfRangeError:
                break
            feats = sess.run(rep.outputs["pre_logits"].name, {rep.inputs["image"].name: image})
            hits += list((feats.reshape(len(image), -1) @ w + b).argmax(1) == label)
    return float(np.mean(hits))


@pytest.mark.slow
def test_rotation_trains_exports_and_linear_eval_resumes(toy_record_dir, tmp_path):
    work = str(tmp_path / "rotation")
    argv = TOY_ROTATION + ["--workdir", work, "--dataset_dir", toy_record_dir]
    assert train_and_eval.main(argv) == 0  # 7 val images / batch 4: 1 step per epoch, 61 steps
    assert os.path.exists(os.path.join(work, "TRAINING_IS_DONE")) and glob.glob(os.path.join(work, "model-61.*"))
    _, cfg = parse_flags("train_and_eval", argv)
    trained = rotation_accuracy(cfg, toy_record_dir, tf.train.latest_checkpoint(work))
    untrained = rotation_accuracy(cfg, toy_record_dir, None)
    assert trained >= untrained + 0.3, (trained, untrained)
    assert train_and_eval.main(argv + ["--run_eval"]) == 0
    with open(os.path.join(work, "eval_results.json")) as f:
        module = json.load(f)["module"]
    out = str(tmp_path / "linear")
    lin = ["--config", CONFIG + ":toy_eval_rotation_or_exemplar", "--workdir", out, "--dataset_dir", toy_record_dir,
           "--hub_module", module, "--smaller_size", "36", "--crop_size", "32", "--batch_size", "32",
           "--eval_batch_size", "10", "--epochs", "2", "--decay_epochs", "1", "--cpu_towers", "2"]
    assert train_and_eval.main(lin) == 0  # 160 images / 32: 5 steps per epoch, checkpoints model-5, model-10
    with open(os.path.join(out, "results.json")) as f:
        first = json.load(f)["results"]
    assert set(first) == {"after_root", "block1", "block2", "block3", "block4", "pre_logits", "logits"}
    assert sorted(os.path.basename(p) for p in glob.glob(os.path.join(out, "model-*.index"))) == \
        ["model-10.index", "model-5.index"]
    for path in glob.glob(os.path.join(out, "model-10.*")):  # lose the last epoch: an unfinished run
        os.remove(path)
    tf.train.update_checkpoint_state(out, os.path.join(out, "model-5"))
    assert train_and_eval.main(lin + ["--run_eval"]) == 0  # eval only: no training step, no new checkpoint
    assert [os.path.basename(p) for p in glob.glob(os.path.join(out, "model-*.index"))] == ["model-5.index"]
    with open(os.path.join(out, "results.json")) as f:
        at_5 = json.load(f)["results"]
    assert abs(at_5["pre_logits"]["top1"] - head_top1(out, module, toy_record_dir, lin)) < 1e-6  # model-5's head
    assert train_and_eval.main(lin) == 0
    with open(os.path.join(out, "log.log")) as f:
        assert "Start training with global_step=5" in f.read()
    assert glob.glob(os.path.join(out, "model-10.index"))


@pytest.mark.slow
def test_launcher_script_runs_jigsaw(toy_record_dir, tmp_path):
    work = str(tmp_path / "jigsaw")
    args = ["--workdir", work, "--dataset_dir", toy_record_dir, "--nouse_tpu", "--master=", "--architecture",
            "revnet50", "--filters_factor", "1", "--warmup_epochs", "0", "--resize_size", "96,96", "--crop_size",
            "90", "--patch_jitter", "6", "--embed_dim", "16", "--batch_size", "4", "--epochs", "0.05", "--set",
            "head_hidden=32", "--serving_input_shape", "None,24,24,3", "--gpu", ""]
    proc = subprocess.run([os.path.join(ROOT, "revisiting", "config", "jigsaw", "imagenet.sh")] + args, cwd=ROOT,
                          env=dict(os.environ, PYTHON=sys.executable), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert os.path.getsize(os.path.join(work, "permutations_100_max.bin")) == 4 * (2 + 900)
    assert glob.glob(os.path.join(work, "model-2.*"))  # 153 train images / 4 = 38 steps per epoch: 2 steps


@pytest.mark.slow
@pytest.mark.parametrize("key,extra", [  # train: 153 images / 4 = 38 steps per epoch; trainval: 160 / 8 = 20
    ("toy_relative_patch_location", ["--batch_size", "4", "--epochs", "0.0526", "--set", "head_hidden=32",
                                     "--embed_dim", "8"]),
    ("toy_exemplar", ["--batch_size", "4", "--epochs", "0.0526"]),
    ("toy_supervised", ["--batch_size", "8", "--epochs", "0.1"]),
])
def test_other_tasks_train_two_steps(toy_record_dir, tmp_path, key, extra):
    argv = ["--config", CONFIG + ":" + key, "--workdir", str(tmp_path), "--dataset_dir", toy_record_dir,
            "--gpu", ""] + extra
    assert train_and_eval.main(argv) == 0
    assert glob.glob(str(tmp_path / "model-2.*"))


def test_config_defaults_equal_the_flag_table():
    """The config's ``defaults`` key (what scripts reading the JSON directly see) holds the table's defaults."""
    defaults = json.load(open(CONFIG_FILE))["defaults"]
    assert defaults == {f.name: f.default for f in FLAGS}
