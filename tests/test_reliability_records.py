"""Reliability II, records: 16-bit images, empty class folders, broken links, meta.json's class count and garbled
DALI index files (findings of a hostile probe; each case failed before its fix)."""
import io
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from common.data.build import build_tfrecords
from common.data.records import list_shards, read_meta
from tests.test_build_tfrs import _small_folder, read_records


def build(folder, out):
    lines = []
    build_tfrecords(folder, out, train_shards=1, val_shards=1, workers=1, log=lines.append)
    return lines


def test_16_bit_greyscale_png_named_jpeg_keeps_its_picture(toy_image_dir, tmp_path):
    folder = _small_folder(toy_image_dir, str(tmp_path / "img"), per_class=2)
    rng = np.random.RandomState(0)
    pixels = (rng.rand(24, 40) * 65535).astype(np.uint16)  # random 16-bit values over the whole range
    Image.fromarray(pixels).save(os.path.join(folder, "val", "n00000000", "deep.JPEG"), "PNG")
    build(folder, str(tmp_path / "rec"))
    stored = [r[0] for r in read_records(str(tmp_path / "rec"), "validation") if r[3].endswith("deep.JPEG")]
    decoded = np.asarray(Image.open(io.BytesIO(stored[0])).convert("L"), np.float64)
    want = np.round(pixels / 257.0)  # 0..65535 -> 0..255
    assert decoded.shape == want.shape and np.abs(decoded - want).mean() < 3 and decoded.std() > 50


def test_empty_class_folder_is_said_and_keeps_its_label(toy_image_dir, tmp_path):
    folder = _small_folder(toy_image_dir, str(tmp_path / "img"), per_class=2, classes=3)
    empty = os.path.join(folder, "train", "n00000001")
    shutil.rmtree(empty)
    os.makedirs(empty)
    shutil.rmtree(os.path.join(folder, "val", "n00000001"))
    lines = build(folder, str(tmp_path / "rec"))
    warned = [line for line in lines if "no images" in line]
    assert warned == ["warning: class folder %s holds no images; it keeps label 1 (labels follow the sorted class "
                      "folders) and counts in num_classes" % empty]
    assert read_meta(str(tmp_path / "rec"))["num_classes"] == 3
    assert sorted(set(r[1] for r in read_records(str(tmp_path / "rec"), "train"))) == [0, 2]


def test_broken_symlink_is_counted_and_reported(toy_image_dir, tmp_path):
    folder = _small_folder(toy_image_dir, str(tmp_path / "img"), per_class=2)
    link = os.path.join(folder, "train", "n00000000", "gone.JPEG")
    os.symlink(str(tmp_path / "nowhere.JPEG"), link)
    lines = build(folder, str(tmp_path / "rec"))
    assert any(line.startswith("skipped %s (" % link) for line in lines)
    assert any(line.startswith("train: 4 images") and "; 1 undecodable skipped" in line for line in lines)


@pytest.fixture
def records(toy_record_dir, tmp_path):
    out = str(tmp_path / "rec")
    shutil.copytree(toy_record_dir, out)
    return out


def test_meta_num_classes_that_disagrees_with_the_labels_is_refused(records):
    meta = read_meta(records)
    meta["num_classes"] = 5
    json.dump(meta, open(os.path.join(records, "meta.json"), "w"))
    with pytest.raises(ValueError, match="^record dir %s: meta.json says num_classes 5, its class_names has 10 "
                                         "classes" % records):
        list_shards(records, "train")


def test_garbled_dali_index_file_names_it(records):
    idx = os.path.join(records, "idx", "train-00000-of-00002.idx")
    with open(idx, "r+") as f:
        f.write("x1z")
    with pytest.raises(ValueError, match="^DALI index file %s is garbled \\(line 'x1z" % idx):
        list_shards(records, "train")


@pytest.mark.parametrize("module,argv", [
    ("instance_disc.main", ["{}", "--config", "exp_configs/instance_disc.json:toy"]),
    ("classification.train", ["--config", "exp_configs/classification.json:toy", "--data", "{}"]),
    ("local_aggregation.train", ["--config", "exp_configs/la_final.json:toy_LA", "--image_dir", "{}"]),
])
def test_scripts_refuse_records_without_meta_json(records, tmp_path, capsys, module, argv):
    from tests.test_reliability_inputs import error_line
    os.remove(os.path.join(records, "meta.json"))
    argv = [a.format(records) for a in argv] + ["--logdir", str(tmp_path / "run")]
    if module == "local_aggregation.train":
        argv = argv[:-2] + ["--cache_dir", str(tmp_path / "run")]
    line = error_line(capsys, module, argv)
    assert line.startswith("error: ") and os.path.join(records, "meta.json") in line, line
    assert not os.path.exists(str(tmp_path / "run"))
