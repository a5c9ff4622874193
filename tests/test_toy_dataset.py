"""dataset_miscs/make_toy_dataset.py: layout, determinism, difficulty (not separable by colour), bad input."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from dataset_miscs.make_toy_dataset import CLASS_NAMES_FILE, main, make_toy_dataset, wnid
from dataset_miscs.toy_shapes import CLASSES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_layout_counts_and_class_names(toy_image_dir):
    for split, per_class in (("train", 16), ("val", 4)):
        classes = sorted(os.listdir(os.path.join(toy_image_dir, split)))
        assert classes == [wnid(k) for k in range(10)] == ["n%08d" % k for k in range(10)]
        for c in classes:
            files = sorted(os.listdir(os.path.join(toy_image_dir, split, c)))
            assert len(files) == per_class and all(f.endswith(".JPEG") for f in files)
    img = cv2.imread(os.path.join(toy_image_dir, "train", "n00000003", "n00000003_00000.JPEG"))
    assert img.shape == (96, 96, 3)
    with open(os.path.join(toy_image_dir, CLASS_NAMES_FILE)) as f:
        lines = [line.split() for line in f]
    assert lines == [[wnid(k), CLASSES[k].__name__] for k in range(10)]


def test_deterministic_and_independent_of_workers(tmp_path):
    a = make_toy_dataset(str(tmp_path / "a"), num_classes=3, train_per_class=2, val_per_class=1, size=64, workers=1)
    b = make_toy_dataset(str(tmp_path / "b"), num_classes=3, train_per_class=2, val_per_class=1, size=64, workers=2)
    c = make_toy_dataset(str(tmp_path / "c"), num_classes=3, train_per_class=2, val_per_class=1, size=64, seed=1,
                         workers=1)
    assert _files(a) == _files(b) == _files(c) and len(_files(a)) == 3 * 3 + 1
    for rel in _files(a):
        with open(os.path.join(a, rel), "rb") as fa, open(os.path.join(b, rel), "rb") as fb:
            assert fa.read() == fb.read(), rel
    jpegs = [r for r in _files(a) if r.endswith(".JPEG")]
    assert all(open(os.path.join(a, r), "rb").read() != open(os.path.join(c, r), "rb").read() for r in jpegs)


def test_not_separable_by_colour_but_images_vary(toy_image_dir):
    feats, labels = [], []
    for k in range(10):
        folder = os.path.join(toy_image_dir, "train", wnid(k))
        for f in sorted(os.listdir(folder)):
            img = cv2.imread(os.path.join(folder, f)).astype(np.float64)
            feats.append(np.concatenate([img.mean((0, 1)), img.std((0, 1))]))
            labels.append(k)
    feats, labels = np.array(feats), np.array(labels)
    assert np.unique(feats.round(3), axis=0).shape[0] == len(feats)  # no two images alike
    correct = 0  # leave-one-out nearest class mean on colour statistics: close to chance (0.1)
    for i in range(len(feats)):
        keep = np.arange(len(feats)) != i
        means = np.stack([feats[keep & (labels == k)].mean(0) for k in range(10)])
        correct += int(np.argmin(((means - feats[i]) ** 2).sum(1)) == labels[i])
    assert correct / len(feats) < 0.3


def test_bad_arguments_raise_one_line(tmp_path):
    with pytest.raises(ValueError, match="--num-classes must be in 1..%d" % len(CLASSES)):
        make_toy_dataset(str(tmp_path / "x"), num_classes=len(CLASSES) + 1)
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    with pytest.raises(ValueError, match="cannot write to output dir .*file/sub"):
        make_toy_dataset(str(blocker / "sub"), num_classes=2, train_per_class=1, val_per_class=0)
    assert blocker.read_text() == "keep me"


@pytest.mark.slow
def test_command_line(tmp_path):
    script = os.path.join(ROOT, "dataset_miscs", "make_toy_dataset.py")
    args = [sys.executable, script, "--out", str(tmp_path / "toy"), "--num-classes", "12", "--train-per-class", "2",
            "--val-per-class", "1", "--size", "48", "--grid", str(tmp_path / "grid.png")]
    run = subprocess.run(args, capture_output=True, text=True, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert cv2.imread(str(tmp_path / "grid.png")).shape == (12 * 48, 2 * 48, 3)


def test_main_error_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    assert main(["--out", str(blocker / "x")]) == 2
    assert capsys.readouterr().err == "error: cannot write to output dir %s: Not a directory\n" % (blocker / "x")
    assert main(["--out", str(tmp_path / "t"), "--num-classes", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --num-classes must be in 1..12")
