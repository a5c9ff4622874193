"""classification/ scripts end to end on the toy records (the release's recipe: train on 2 CPU towers + resume,
1-crop/10-crop/11-view test with two checkpoints averaged, one-image prediction) and their one-line errors on bad
input. Results are checked against the training log and an independent numpy evaluation."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = "exp_configs/classification.json:toy"
TINY = ["--set", "image_size=32", "--set", "resize_shorter=37", "--set", "short_side=[37,41]", "--set", "width=0.25",
        "--set", "val_batch=20"]


def _run(script, *args):
    proc = subprocess.run([sys.executable, os.path.join("classification", script)] + list(args), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=600)
    return proc


@pytest.fixture(scope="module")
def trained(toy_record_dir, tmp_path_factory):
    """A tiny run: warm-up + 1 cosine epoch of 2 steps on 2 CPU towers, relaunched to 2 cosine epochs (resume)."""
    logdir = str(tmp_path_factory.mktemp("cls") / "run")
    argv = ["--config", CONFIG, "--data", toy_record_dir, "--logdir", logdir, "--batch", "16",
            "--steps_per_epoch", "2", "--cpu_towers", "2"] + TINY
    first = _run("train.py", *(argv + ["--epochs", "1"]))
    assert first.returncode == 0, first.stderr[-3000:]
    second = _run("train.py", *(argv + ["--epochs", "2"]))
    assert second.returncode == 0, second.stderr[-3000:]
    return logdir


def _stats(logdir):
    with open(os.path.join(logdir, "stats.json")) as f:
        return json.load(f)


@pytest.mark.slow
def test_train_follows_the_release_schedule_and_resumes(trained):
    from classification.schedule import seed_learning_rate
    stats = _stats(trained)
    assert [s["epoch_num"] for s in stats] == [1, 2, 3]
    assert [s["global_step"] for s in stats] == [2, 4, 6]
    # the logged rate is the one of each epoch's last step; the relaunch had 2 cosine epochs instead of 1
    want = [seed_learning_rate(1, 2, epochs=1), seed_learning_rate(3, 2, epochs=1), seed_learning_rate(5, 2, epochs=2)]
    np.testing.assert_allclose([s["learning_rate"] for s in stats], want, rtol=1e-6)
    assert os.path.exists(os.path.join(trained, "min-val-error-top1.index"))
    assert os.listdir(os.path.join(trained, "warmup")) and os.path.exists(os.path.join(trained, "warmup",
                                                                                        "model-2.index"))
    with open(os.path.join(trained, "classifier.json")) as f:
        info = json.load(f)
    assert info["model"] == "resnet18" and len(info["class_names"]) == 10 and info["image_size"] == 32
    assert info["size_rounding"] == "floor" and info["interpolation"] == "bilinear"


def _numpy_errors(toy_record_dir, checkpoints, seam_carve):
    """Top-1 errors (1-crop, 10-crop, 11-view) of the mean of the checkpoints' softmax, averaged in numpy."""
    from classification.eval_data import RecordImages, image_views
    from classification.predictor import Classifier, read_run_info
    from classification.recipe import EvalView
    data = list(RecordImages(toy_record_dir, "validation"))
    view = EvalView.from_config(read_run_info(checkpoints[0]))
    views = np.stack([image_views(image, view, 10, seam_carve) for image, _, _ in data])
    labels = np.array([label for _, label, _ in data])
    probs = []
    for ckpt in checkpoints:
        model = Classifier(read_run_info(ckpt), ckpt)
        probs.append(model.probabilities(views.reshape((-1,) + views.shape[2:])).reshape(views.shape[:2] + (-1,)))
        model.close()
    mean = np.mean(probs, axis=0)
    return {"1-crop": np.mean(mean[:, 4].argmax(1) != labels), "10-crop": np.mean(mean[:, :10].mean(1).argmax(1)
                                                                                   != labels),
            "11-view": np.mean(mean.mean(1).argmax(1) != labels)}


@pytest.mark.slow
def test_test_script_matches_training_log_and_numpy_averaging(trained, toy_record_dir, tmp_path):
    out = str(tmp_path / "results.json")
    last, first = os.path.join(trained, "model-6"), os.path.join(trained, "model-2")
    proc = _run("test.py", "--config", CONFIG, "--data", toy_record_dir, "--checkpoint", last, "--checkpoint", first,
                "--seam-carve", "--out", out, *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "11-view" in proc.stdout and "Average (2 models)" in proc.stdout
    with open(out) as f:
        results = json.load(f)
    assert results["images"] == 40 and len(results["models"]) == 2
    # the 1-crop error of the last checkpoint is the validation error logged at the end of training
    assert results["models"][0]["1-crop"]["top1"] == pytest.approx(_stats(trained)[-1]["val-error-top1"], abs=1e-6)
    for key, value in _numpy_errors(toy_record_dir, [last, first], True).items():
        assert results["average"][key]["top1"] == pytest.approx(value), key
    twice = str(tmp_path / "twice.json")
    proc = _run("test.py", "--config", CONFIG, "--data", toy_record_dir, "--checkpoint", last, "--checkpoint", last,
                "--out", twice, *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(twice) as f:
        same = json.load(f)
    assert same["average"] == {k: results["models"][0][k] for k in ("1-crop", "10-crop")}


@pytest.mark.slow
def test_predict_prints_the_top_10_and_writes_png(trained, toy_image_dir, tmp_path):
    folder = os.path.join(toy_image_dir, "val", sorted(os.listdir(os.path.join(toy_image_dir, "val")))[0])
    image = cv2.imread(os.path.join(folder, sorted(os.listdir(folder))[0]))
    wide = str(tmp_path / "wide.png")
    cv2.imwrite(wide, np.concatenate([image, image[:, :24]], axis=1))
    png = str(tmp_path / "pred.png")
    proc = _run("predict.py", wide, "--checkpoint", trained, "--seam-carve", "--out", png)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [l for l in proc.stdout.splitlines() if l.split(".")[0].isdigit()]
    assert len(lines) == 10  # all 10 toy classes: the probabilities add up to 100%
    assert sum(float(l.split("%")[0].split()[-1]) for l in lines) == pytest.approx(100.0, abs=0.06)
    with open(os.path.join(toy_image_dir, "class_names.txt")) as f:
        names = {l.split(None, 1)[1].strip() for l in f if l.strip()}
    assert all(l.split()[1] in names for l in lines)
    assert cv2.imread(png) is not None


def test_parse_flags_of_each_script():
    """A flag's value, the config's and a --set's, in args and cfg; the scripts' own arguments in args."""
    from classification.flags import parse_flags
    args, cfg = parse_flags("train", ["--config", CONFIG, "--batch", "16", "--set", "width=0.5",
                                      "--steps_per_epoch", "3"])
    assert (args.batch, cfg["batch"], cfg["epochs"], cfg["width"]) == (16, 16, 4, 0.5)
    assert (args.steps_per_epoch, args.data_format, args.config) == (3, "auto", CONFIG)
    assert cfg["size_rounding"] == "floor" and "crop_scale" not in cfg
    args, cfg = parse_flags("test", ["--config", CONFIG, "--data", "RECS", "--checkpoint", "a", "--checkpoint", "b",
                                     "--batch", "8", "--set", "image_size=40", "--seam-carve"])
    assert (cfg["data"], cfg["batch"], cfg["image_size"], cfg["model"]) == ("RECS", 32, 40, "resnet18")
    assert (args.checkpoint, args.eval_batch, args.seam_carve, args.limit) == (["a", "b"], 8, True, None)
    args, cfg = parse_flags("predict", ["img.png", "--checkpoint", "c", "--crops", "1"])
    assert (args.image, args.checkpoint, args.crops, args.topk, cfg) == ("img.png", ["c"], 1, None, {})


def _exit_error(main, argv, capsys):
    from common import cli
    with pytest.raises(SystemExit) as exc:
        cli.run(main, argv)
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
    msg = _exit_error(predict.main, [str(image), "--checkpoint", trained, "--crops", "1", "--seam-carve"], capsys)
    assert "--seam-carve" in msg and "--crops 10" in msg


@pytest.mark.slow
def test_config_mixing_the_recipes_is_one_error_line(toy_record_dir, tmp_path, capsys):
    from classification import test, train
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps({"mixed": {"base": os.path.join(ROOT, "exp_configs", "classification.json") + ":toy",
                                           "lr_decay_epochs": [3], "lr_decay": 0.1}}))
    logdir = tmp_path / "never"
    msg = _exit_error(train.main, ["--config", "%s:mixed" % mixed, "--data", toy_record_dir, "--logdir", str(logdir)],
                      capsys)
    assert "lr_schedule='cosine'" in msg and "lr_decay, lr_decay_epochs" in msg and not logdir.exists()
    msg = _exit_error(test.main, ["--config", CONFIG, "--checkpoint", str(tmp_path), "--set", "lr_schedule=step"],
                      capsys)
    assert "lr_schedule='step'" in msg and "cosine_alpha, peak_lr, warmup_lr" in msg
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"typo": {"base": os.path.join(ROOT, "exp_configs", "classification.json") + ":toy",
                                            "lr_steps": [3]}}))
    msg = _exit_error(train.main, ["--config", "%s:typo" % unknown, "--data", toy_record_dir, "--logdir", str(logdir)],
                      capsys)
    assert "unknown key 'lr_steps'" in msg and "lr_decay_epochs" in msg and not logdir.exists()


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
