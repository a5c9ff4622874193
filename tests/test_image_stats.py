"""dataset_miscs/image_stats.py against statistics computed independently with PIL and numpy."""
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dataset_miscs.image_stats import image_stats, main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_stats_match_numpy_on_folder_and_records(toy_image_dir, toy_record_dir):
    files = sorted(glob.glob(os.path.join(toy_image_dir, "val", "*", "*.JPEG")))
    pix = np.concatenate([np.asarray(Image.open(f).convert("RGB"), np.float64).reshape(-1, 3) / 255 for f in files])
    for data in (toy_image_dir, toy_record_dir):
        s = image_stats(data, "validation")
        assert s["images"] == 40 and s["undecodable"] == 0
        np.testing.assert_allclose(s["mean"], pix.mean(0), atol=2e-6)
        np.testing.assert_allclose(s["std"], pix.std(0), atol=2e-6)
        assert s["sizes_wxh"] == {"96x96": 40} and s["height_bins"] == {"96": 40} == s["width_bins"]
    assert image_stats(toy_record_dir, "validation")["class_counts"] == {n: 4 for n in (
        "house", "tree", "car", "person", "fish", "boat", "lamp", "flower", "rocket", "cup")}
    assert image_stats(toy_image_dir, "train", max_images=7)["images"] == 7


def test_size_histogram_and_bad_files(tmp_path):
    rng = np.random.RandomState(0)
    for split in ("train", "val"):
        os.makedirs(tmp_path / split / "c0")
    shapes = [(40, 70), (40, 70), (100, 33)]
    for k, (h, w) in enumerate(shapes):
        Image.fromarray(rng.randint(0, 255, (h, w, 3), np.uint8)).save(tmp_path / "train" / "c0" / ("%d.jpg" % k))
    (tmp_path / "train" / "c0" / "z.jpg").write_bytes(b"broken")
    s = image_stats(str(tmp_path), "train")
    assert s["images"] == 3 and s["undecodable"] == 1 and s["class_counts"] == {"c0": 3}
    assert s["sizes_wxh"] == {"70x40": 2, "33x100": 1}
    assert s["height_bins"] == {"32": 2, "96": 1} and s["width_bins"] == {"32": 1, "64": 2}
    with pytest.raises(ValueError, match="data dir .*nope does not exist"):
        image_stats(str(tmp_path / "nope"))


def test_main_error_is_one_line(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "none")]) == 2
    assert capsys.readouterr().err == "error: data dir %s does not exist\n" % (tmp_path / "none")


@pytest.mark.slow
def test_command_line_writes_json(toy_record_dir, tmp_path):
    script = os.path.join(ROOT, "dataset_miscs", "image_stats.py")
    out = tmp_path / "s.json"
    run = subprocess.run([sys.executable, script, "--data", toy_record_dir, "--split", "validation", "--out", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text())["images"] == 40
