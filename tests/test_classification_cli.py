"""classification/ scripts end to end on the toy records (train on 2 CPU towers + resume, 1-crop/10-crop test with
two checkpoints averaged, one-image prediction) and their one-line errors on bad input."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = "exp_configs/classification.json:toy"
TINY = ["--set", "image_size=32", "--set", "resize_shorter=37", "--set", "width=0.25", "--set", "val_batch=20"]


def _run(script, *args):
    proc = subprocess.run([sys.executable, os.path.join("classification", script)] + list(args), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    return proc


@pytest.fixture(scope="module")
def trained(toy_record_dir, tmp_path_factory):
    """A tiny run: 1 epoch of 2 steps on 2 CPU towers, then relaunched to 2 epochs (auto-resume)."""
    logdir = str(tmp_path_factory.mktemp("cls") / "run")
    argv = ["--config", CONFIG, "--data", toy_record_dir, "--logdir", logdir, "--batch", "16",
            "--steps_per_epoch", "2", "--cpu_towers", "2"] + TINY
    first = _run("train.py", *(argv + ["--epochs", "1"]))
    assert first.returncode == 0, first.stderr[-3000:]
    second = _run("train.py", *(argv + ["--epochs", "2"]))
    assert second.returncode == 0, second.stderr[-3000:]
    return logdir


@pytest.mark.slow
def test_train_writes_validation_stats_and_resumes(trained):
    with open(os.path.join(trained, "stats.json")) as f:
        stats = json.load(f)
    assert [s["epoch_num"] for s in stats] == [1, 2]
    assert [s["global_step"] for s in stats] == [2, 4]
    for s in stats:
        assert 0.0 <= s["val-error-top1"] <= 1.0 and 0.0 <= s["val-error-top5"] <= s["val-error-top1"]
    assert os.path.exists(os.path.join(trained, "min-val-error-top1.index"))
    with open(os.path.join(trained, "classifier.json")) as f:
        info = json.load(f)
    assert info["model"] == "resnet18" and len(info["class_names"]) == 10 and info["image_size"] == 32


@pytest.mark.slow
def test_test_script_reports_crops_and_average(trained, toy_record_dir, tmp_path):
    out = str(tmp_path / "results.json")
    proc = _run("test.py", "--config", CONFIG, "--data", toy_record_dir, "--checkpoint", trained,
                "--checkpoint", os.path.join(trained, "model-2"), "--out", out, *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "10-crop" in proc.stdout and "Average (2 models)" in proc.stdout
    with open(out) as f:
        results = json.load(f)
    assert results["images"] == 40 and len(results["models"]) == 2
    for key in ("1-crop", "10-crop"):
        assert 0.0 <= results["average"][key]["top5"] <= results["average"][key]["top1"] <= 1.0


@pytest.mark.slow
def test_predict_prints_names_and_writes_png(trained, toy_image_dir, tmp_path):
    folder = os.path.join(toy_image_dir, "val", sorted(os.listdir(os.path.join(toy_image_dir, "val")))[0])
    image = cv2.imread(os.path.join(folder, sorted(os.listdir(folder))[0]))
    wide = str(tmp_path / "wide.png")
    cv2.imwrite(wide, np.concatenate([image, image[:, :24]], axis=1))
    png = str(tmp_path / "pred.png")
    proc = _run("predict.py", wide, "--checkpoint", trained, "--topk", "3", "--seam-carve", "--out", png)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [l for l in proc.stdout.splitlines() if l[:2] in ("1.", "2.", "3.")]
    assert len(lines) == 3
    with open(os.path.join(toy_image_dir, "class_names.txt")) as f:
        names = {l.split(None, 1)[1].strip() for l in f if l.strip()}
    assert all(l.split()[1] in names for l in lines)
    assert cv2.imread(png) is not None


def _exit_error(main, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


@pytest.mark.slow
def test_bad_input_gives_one_error_line(trained, toy_record_dir, tmp_path, capsys):
    from classification import predict, test
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("not an image")
    assert "not an image" in _exit_error(predict.main, [str(not_image), "--checkpoint", trained], capsys)
    image = tmp_path / "img.png"
    cv2.imwrite(str(image), np.zeros((40, 50, 3), np.uint8))
    assert "--topk 11" in _exit_error(predict.main, [str(image), "--checkpoint", trained, "--topk", "11"], capsys)
    msg = _exit_error(test.main, ["--config", CONFIG, "--data", toy_record_dir, "--checkpoint", trained,
                                  "--set", "model=resnet34"] + TINY, capsys)
    assert "resnet34" in msg and "--checkpoint" in msg
    msg = _exit_error(test.main, ["--config", CONFIG, "--data", toy_record_dir, "--checkpoint", trained,
                                  "--set", "num_classes=5"] + TINY, capsys)
    assert "10 classes" in msg
    msg = _exit_error(test.main, ["--config", CONFIG, "--data", toy_record_dir, "--checkpoint",
                                  str(tmp_path / "nothing")], capsys)
    assert "no such checkpoint" in msg


@pytest.mark.slow
def test_checkpoint_with_other_class_count_is_refused(trained):
    from classification.predictor import Classifier, read_run_info, resolve_checkpoint
    checkpoint = resolve_checkpoint(trained)
    info = dict(read_run_info(checkpoint), num_classes=5)
    with pytest.raises(ValueError, match="does not fit a resnet18 model with 5 classes: 'linear/W'"):
        Classifier(info, checkpoint)


@pytest.mark.slow
def test_logdir_of_another_experiment_is_refused_before_writing(trained, toy_record_dir, capsys):
    from classification import train
    info_file = os.path.join(trained, "classifier.json")
    with open(info_file) as f:
        before = f.read()
    msg = _exit_error(train.main, ["--config", CONFIG, "--data", toy_record_dir, "--logdir", trained, "--batch", "16",
                                   "--steps_per_epoch", "2", "--epochs", "3"] + TINY + ["--set", "width=0.5"], capsys)
    assert "--logdir" in msg and "another experiment" in msg
    with open(info_file) as f:
        assert f.read() == before
