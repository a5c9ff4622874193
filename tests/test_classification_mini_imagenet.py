"""dataset_miscs/build_tfrs_mini_imagenet.py: the release's list files -> the project's TFRecords (+ test split),
class names carried into meta.json; bad lists give one error line before anything is written."""
import glob
import json
import os

import numpy as np
import pytest

from classification.eval_data import RecordImages
from common.tf1 import tf
from dataset_miscs import build_tfrs_mini_imagenet as mini


@pytest.fixture()
def mini_layout(toy_image_dir, tmp_path):
    """labels_to_content.txt + train/valid/test lists over 3 toy classes, paths relative to the toy folder."""
    data = tmp_path / "miniImageNet"
    data.mkdir()
    classes = sorted(os.listdir(os.path.join(toy_image_dir, "train")))[:3]
    (data / "labels_to_content.txt").write_text("".join("%d %s thing\n" % (k, c) for k, c in enumerate(classes)))
    lists = {"train_labels.txt": [], "valid_labels.txt": [], "test_labels.txt": []}
    for k, c in enumerate(classes):
        files = sorted(os.listdir(os.path.join(toy_image_dir, "train", c)))[:6]
        for name, part in zip(lists, (files[:4], files[4:5], files[5:6])):
            lists[name] += ["train/%s/%s %d" % (c, f, k) for f in part]
    for name, lines in lists.items():
        (data / name).write_text("\n".join(lines) + "\n")
    return str(data), lists


def _records(path):
    out = {}
    for shard in sorted(glob.glob(os.path.join(path, "*-0*"))):
        for s in tf.python_io.tf_record_iterator(shard):
            f = tf.train.Example.FromString(s).features.feature
            out[f["filename"].bytes_list.value[0].decode()] = f["labels"].int64_list.value[0]
    return out


def test_builds_train_validation_and_test_with_class_names(mini_layout, toy_image_dir, tmp_path):
    data, lists = mini_layout
    out = str(tmp_path / "records")
    mini.build_mini_imagenet(data, toy_image_dir, out, workers=1, log=lambda m: None)
    with open(os.path.join(out, "meta.json")) as f:
        meta = json.load(f)
    assert meta["splits"] == {"train": 12, "validation": 3} and meta["num_classes"] == 3
    assert meta["class_names"][0].endswith(" thing")
    want = {l.split()[0]: int(l.split()[1]) for l in lists["train_labels.txt"] + lists["valid_labels.txt"]}
    assert _records(out) == want
    with open(os.path.join(out, "test", "meta.json")) as f:
        assert json.load(f)["splits"] == {"validation": 3}
    test_labels = sorted(dp[1] for dp in RecordImages(os.path.join(out, "test"), "validation"))
    assert test_labels == [0, 1, 2]


def test_class_file_without_labels_uses_line_order(tmp_path):
    path = tmp_path / "labels_to_content.txt"
    path.write_text("house finch\nrobin\n")
    assert mini.read_class_names(str(path)) == ["house finch", "robin"]


@pytest.mark.parametrize("line, message", [("train/missing.JPEG 0", "does not exist"),
                                           ("train/x.JPEG", "expected '<image path> <integer label>'"),
                                           ("train/x.JPEG 7", "label 7 outside 0..2")])
def test_bad_list_is_one_error_line_and_writes_nothing(mini_layout, toy_image_dir, tmp_path, capsys, line,
                                                       message):
    data, lists = mini_layout
    with open(os.path.join(data, "valid_labels.txt"), "a") as f:
        f.write(line + "\n")
    out = str(tmp_path / "records")
    code = mini.main(["--data_dir", data, "--image_root", toy_image_dir, "--save_dir", out])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert "valid_labels.txt line %d" % (len(lists["valid_labels.txt"]) + 1) in err[0]
    assert not os.path.exists(out)


def test_split_from_folder_is_seeded_disjoint_and_per_class(toy_image_dir, tmp_path):
    folder = os.path.join(toy_image_dir, "train")
    data = str(tmp_path / "lists")
    mini.write_split_lists(folder, data, (10, 3, 3), seed=5)
    read = lambda name: open(os.path.join(data, name)).read().split("\n")[:-1]  # noqa: E731
    train, valid, test = read("train_labels.txt"), read("valid_labels.txt"), read("test_labels.txt")
    assert (len(train), len(valid), len(test)) == (100, 30, 30)
    assert not set(train) & set(valid) and not set(valid) & set(test) and not set(train) & set(test)
    classes = sorted(os.listdir(folder))
    files = sorted(os.listdir(os.path.join(folder, classes[2])))
    order = [files[i] for i in np.random.RandomState(5).permutation(len(files))]
    assert [l for l in valid if l.endswith(" 2")] == ["%s/%s 2" % (classes[2], f) for f in order[10:13]]
    with open(os.path.join(toy_image_dir, "class_names.txt")) as f:
        first = dict(l.split(None, 1) for l in f if l.strip())[classes[0]].strip()
    assert mini.read_class_names(os.path.join(data, "labels_to_content.txt"))[0] == first
    out = str(tmp_path / "records")
    assert mini.main(["--data_dir", data, "--split_from", folder, "--split", "10,3,3", "--random_seed", "5",
                      "--save_dir", out, "--workers", "1"]) == 0
    with open(os.path.join(out, "meta.json")) as f:
        assert json.load(f)["splits"] == {"train": 100, "validation": 30}
    with pytest.raises(ValueError, match="fewer than the 20"):
        mini.split_lists(folder, (10, 5, 5))
