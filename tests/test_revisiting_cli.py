"""revisiting/train_and_eval.py and the release-style launch scripts on the toy records; bad input errors."""
import glob
import json
import os
import subprocess
import sys

import pytest

from revisiting import train_and_eval

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOY_TRUNK = ["--architecture", "revnet50", "--filters_factor", "1", "--warmup_epochs", "0"]


def script(name, *args):
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run([os.path.join(ROOT, "revisiting", "config", name)] + [str(a) for a in args], cwd=ROOT,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_rotation_scripts_train_export_and_linear_eval(toy_record_dir, tmp_path):
    work = str(tmp_path / "rotation")
    common = ["--workdir", work, "--dataset_dir", toy_record_dir, "--nouse_tpu", "--master="] + TOY_TRUNK + [
        "--resize_size", "32,32", "--batch_size", "8", "--epochs", "0.1", "--serving_input_shape", "None,32,32,3"]
    script("rotation/imagenet.sh", *common)  # 160 images / 8 = 20 steps per epoch: 2 steps
    assert os.path.exists(os.path.join(work, "TRAINING_IS_DONE")) and glob.glob(os.path.join(work, "model-2.*"))
    assert train_and_eval.main(["--config", "exp_configs/revisiting.json:rotation", "--run_eval",
                                "--eval_batch_size", "20"] + common) == 0
    with open(os.path.join(work, "eval_results.json")) as f:
        results = json.load(f)
    assert 0 <= results["accuracy"] <= 1 and results["loss"] > 0
    out = str(tmp_path / "linear")
    script("evaluation/rotation_or_exemplar.sh", "--workdir", out, "--dataset_dir", toy_record_dir,
           "--hub_module", results["module"], "--num_classes", "10", "--smaller_size", "36", "--crop_size", "32",
           "--batch_size", "16", "--eval_batch_size", "20", "--epochs", "0.2")
    with open(os.path.join(out, "results.json")) as f:
        top1 = {k: v["top1"] for k, v in json.load(f)["results"].items()}
    assert set(top1) == {"after_root", "block1", "block2", "block3", "block4", "pre_logits", "logits"}
    assert all(0 <= v <= 1 for v in top1.values()) and os.path.getsize(os.path.join(out, "results.png")) > 0


@pytest.mark.slow
def test_jigsaw_script_and_patch_linear_eval(toy_record_dir, tmp_path):
    work = str(tmp_path / "jigsaw")
    common = ["--workdir", work, "--dataset_dir", toy_record_dir] + TOY_TRUNK + [
        "--resize_size", "96,96", "--crop_size", "90", "--patch_jitter", "6", "--embed_dim", "16",
        "--batch_size", "4", "--epochs", "0.05", "--set", "head_hidden=32", "--serving_input_shape", "None,24,24,3"]
    script("jigsaw/imagenet.sh", *common)
    assert os.path.getsize(os.path.join(work, "permutations_100_max.bin")) == 4 * (2 + 900)
    assert train_and_eval.main(["--config", "exp_configs/revisiting.json:jigsaw", "--run_eval",
                                "--eval_batch_size", "8"] + common) == 0
    with open(os.path.join(work, "eval_results.json")) as f:
        module = json.load(f)["module"]
    out = str(tmp_path / "linear")
    assert train_and_eval.main([
        "--config", "exp_configs/revisiting.json:eval_jigsaw_or_relative_patch_location", "--workdir", out,
        "--dataset_dir", toy_record_dir, "--hub_module", module, "--num_classes", "10", "--smaller_size", "72",
        "--crop_size", "72,72", "--batch_size", "16", "--eval_batch_size", "20", "--epochs", "0.1"]) == 0
    assert os.path.exists(os.path.join(out, "results.png"))


@pytest.mark.slow
@pytest.mark.parametrize("key,extra", [
    ("toy_relative_patch_location", ["--batch_size", "4", "--set", "head_hidden=32", "--embed_dim", "8"]),
    ("toy_exemplar", ["--batch_size", "4"]),
    ("toy_supervised", ["--batch_size", "8"]),
])
def test_other_tasks_train_two_steps(toy_record_dir, tmp_path, key, extra):
    argv = ["--config", "exp_configs/revisiting.json:" + key, "--workdir", str(tmp_path), "--dataset_dir",
            toy_record_dir, "--epochs", str(2.0 * int(extra[1]) / 160)] + extra
    assert train_and_eval.main(argv) == 0
    assert glob.glob(str(tmp_path / "model-2.*"))


@pytest.mark.parametrize("flags,message", [
    (["--config", "exp_configs/revisiting.json:rotation", "--preprocessing", "inception_preprocess,rotat"],
     "unknown preprocessing op 'rotat'"),
    (["--config", "exp_configs/revisiting.json:jigsaw", "--crop_size", "40", "--resize_size", "40"],
     "too small for splits_per_side=3 with patch_jitter=21"),
    (["--config", "exp_configs/revisiting.json:rotation", "--filters_factor", "7"],
     "--filters_factor 7 is not supported by --architecture revnet50"),
    (["--config", "exp_configs/revisiting.json:exemplar", "--preprocessing", "to_gray,inception_preprocess"],
     "exemplar needs 'crop_inception_preprocess_patches'"),
    (["--config", "exp_configs/revisiting.json:rotation", "--task", "colorize"], "--task 'colorize'"),
    (["--config", "exp_configs/revisiting.json:nope"], "has no key 'nope'"),
    (["--config", "exp_configs/revisiting.json:rotation", "--set", "colour=1"], "unknown parameter 'colour'"),
])
def test_bad_input_is_one_error_line(flags, message, tmp_path, capsys):
    assert train_and_eval.main(flags + ["--workdir", str(tmp_path), "--dataset_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert os.listdir(str(tmp_path)) == []
