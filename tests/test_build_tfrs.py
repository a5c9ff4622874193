"""TFRecord builders: record contents against an independent listing, shard plans, index files, bad input."""
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from common.data.records import (FEATURES, ensure_records, index_path, list_shards, read_meta, write_index)
from common.data.writer import build_split, shard_plan
from common.tf1 import tf
from dataset_miscs.build_tfrs import build_tfrecords, default_shards, main  # the CLI re-exports the library

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_records(record_dir, split):
    """[(image bytes, label, index, filename, shard)] of every record, in shard order."""
    out = []
    for shard in list_shards(record_dir, split):
        for raw in tf.io.tf_record_iterator(shard):
            f = tf.train.Example.FromString(raw).features.feature
            out.append((f["images"].bytes_list.value[0], f["labels"].int64_list.value[0],
                        f["index"].int64_list.value[0], f["filename"].bytes_list.value[0].decode(), shard))
    return out


def expected_list(image_dir, sub, seed):
    classes = sorted(os.listdir(os.path.join(image_dir, "train")))
    items = [(c + "/" + f, k) for k, c in enumerate(classes)
             for f in sorted(os.listdir(os.path.join(image_dir, sub, c)))]
    if seed is not None:
        np.random.seed(seed)
        items = [tuple(x) for x in np.random.permutation(np.array(items, dtype=object))]
    return items


def test_records_match_folder_listing(toy_image_dir, toy_record_dir):
    for split, sub, seed in (("train", "train", 0), ("validation", "val", None)):
        recs = read_records(toy_record_dir, split)
        assert [(r[3], r[1]) for r in recs] == expected_list(toy_image_dir, sub, seed)
        assert [r[2] for r in recs] == list(range(len(recs)))
        for img, _, _, name, _ in recs:
            with open(os.path.join(toy_image_dir, sub, name), "rb") as f:
                assert f.read() == img  # stored as read, not re-encoded
    assert [os.path.basename(s) for s in list_shards(toy_record_dir, "train")] == \
        ["train-00000-of-00002", "train-00001-of-00002"]
    assert read_meta(toy_record_dir) == {"splits": {"train": 160, "validation": 40}, "num_classes": 10,
                                         "class_names": ["house", "tree", "car", "person", "fish", "boat", "lamp",
                                                         "flower", "rocket", "cup"],
                                         "source": os.path.abspath(toy_image_dir),
                                         "shards": {"train": ["train-00000-of-00002", "train-00001-of-00002"],
                                                    "validation": ["validation-00000-of-00001"]}}
    with open(os.path.join(toy_record_dir, "labels.txt")) as f:
        assert f.read().split() == [t for k in range(10) for t in ("n%08d" % k, str(k))]
    assert set(FEATURES) == {"images", "labels", "index", "filename"}


def test_index_files_match_record_offsets(toy_record_dir):
    for shard in list_shards(toy_record_dir, "train") + list_shards(toy_record_dir, "validation"):
        with open(index_path(shard)) as f:
            rows = [tuple(map(int, line.split())) for line in f]
        lengths = [len(r) for r in tf.io.tf_record_iterator(shard)]
        assert [s for _, s in rows] == [n + 16 for n in lengths]  # 8 length + 4 crc + data + 4 crc
        assert [o for o, _ in rows] == list(np.cumsum([0] + [n + 16 for n in lengths[:-1]]))
        assert rows[-1][0] + rows[-1][1] == os.path.getsize(shard)


def test_shard_plans_worked_values():
    plan = shard_plan(1281167, 1024, "train")
    assert len(plan) == 1024 and plan[0] == ("train-00000-of-01024", 0, 1252)
    assert plan[-1] == ("train-01023-of-01024", 1281167 - 371, 1281167)
    val = shard_plan(50000, 128, "validation")
    assert val[-1] == ("validation-00127-of-00128", 50000 - 343, 50000) and val[0][2] == 391
    places = shard_plan(10, 4, "train", "places")
    assert [p[0] for p in places] == ["train-%05d-00004" % i for i in range(5)] and places[-1][1:] == (8, 10)
    assert (default_shards(1281167, "train"), default_shards(50000, "validation")) == (1024, 128)
    assert (default_shards(10000, "train"), default_shards(1000, "validation")) == (20, 2)
    assert default_shards(40, "train") == 1
    with pytest.raises(ValueError, match="unknown shard layout 'x'"):
        shard_plan(5, 1, "train", "x")


def _small_folder(toy_image_dir, root, per_class=3, classes=2):
    for split in ("train", "val"):
        for k in range(classes):
            src = os.path.join(toy_image_dir, split if split == "train" else "train", "n%08d" % k)
            dst = os.path.join(root, split, "n%08d" % k)
            os.makedirs(dst)
            for f in sorted(os.listdir(src))[:per_class]:
                shutil.copy(os.path.join(src, f), dst)
    return root


def test_bad_images_skipped_or_reencoded(toy_image_dir, tmp_path):
    root = _small_folder(toy_image_dir, str(tmp_path / "img"))
    cls0 = os.path.join(root, "train", "n00000000")
    good = os.path.join(cls0, sorted(os.listdir(cls0))[0])
    data = open(good, "rb").read()
    with open(os.path.join(cls0, "a_truncated.JPEG"), "wb") as f:
        f.write(data[: len(data) // 2])
    with open(os.path.join(cls0, "b_garbage.JPEG"), "wb") as f:
        f.write(b"not an image at all")
    rgb = Image.open(good).convert("RGB")
    rgb.save(os.path.join(cls0, "c_png.JPEG"), "PNG")  # PNG in disguise
    rgb.convert("CMYK").save(os.path.join(cls0, "d_cmyk.JPEG"), "JPEG")
    logs = []
    out = build_tfrecords(root, str(tmp_path / "rec"), workers=1, log=logs.append)
    recs = read_records(out, "train")
    names = sorted(r[3] for r in recs)
    assert "n00000000/a_truncated.JPEG" not in names and "n00000000/b_garbage.JPEG" not in names
    assert "n00000000/c_png.JPEG" in names and "n00000000/d_cmyk.JPEG" in names
    assert sorted(r[2] for r in recs) == list(range(6 + 2)) and read_meta(out)["splits"]["train"] == 8
    assert sum("skipped" in m and "a_truncated" in m for m in logs) == 1
    assert any("2 undecodable skipped, 2 re-encoded" in m for m in logs)
    for img, _, _, name, _ in recs:
        decoded = Image.open(io.BytesIO(img))
        assert decoded.format == "JPEG", name
        if name.endswith(("c_png.JPEG", "d_cmyk.JPEG")):
            assert decoded.mode == "RGB" and np.abs(np.asarray(decoded, np.float64) - np.asarray(rgb)).mean() < 20


def test_rerun_keeps_finished_shards_and_ignores_temporaries(toy_image_dir, tmp_path):
    root = _small_folder(toy_image_dir, str(tmp_path / "img"))
    out = str(tmp_path / "rec")
    build_tfrecords(root, out, train_shards=2, workers=1, log=lambda m: None)
    shard = list_shards(out, "train")[0]
    before = (os.path.getmtime(shard), open(shard, "rb").read())
    os.remove(index_path(shard))
    open(os.path.join(out, ".train-00001-of-00002.tmp"), "w").close()  # left over by a killed run
    logs = []
    build_tfrecords(root, out, train_shards=2, workers=1, log=logs.append)
    assert (os.path.getmtime(shard), open(shard, "rb").read()) == before and os.path.exists(index_path(shard))
    assert any("0 written, 2 already complete" in m for m in logs)
    assert len(list_shards(out, "train")) == 2


def test_folder_errors_name_the_path(toy_image_dir, tmp_path):
    with pytest.raises(ValueError, match="image folder .*nowhere does not exist"):
        build_tfrecords(str(tmp_path / "nowhere"), str(tmp_path / "o"))
    empty = tmp_path / "empty"
    (empty / "train" / "n0").mkdir(parents=True)
    (empty / "val").mkdir()
    with pytest.raises(ValueError, match="no image files in .*empty/train"):
        build_tfrecords(str(empty), str(tmp_path / "o"))
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="no train-\\* TFRecord shards in"):
        list_shards(str(empty), "train")
    with pytest.raises(ValueError, match="unknown split 'val'"):
        list_shards(str(empty), "val")
    with pytest.raises(ValueError, match="neither a TFRecord dir"):
        ensure_records(str(empty / "train"))
    with pytest.raises(ValueError, match="no decodable images for split train"):
        bad = tmp_path / "bad.JPEG"
        bad.write_bytes(b"xx")
        build_split([(str(bad), 0, "bad.JPEG")], str(tmp_path / "o2"), "train", 1, log=lambda m: None)


def test_ensure_records_builds_once(toy_image_dir, toy_record_dir, tmp_path):
    assert ensure_records(toy_record_dir) == toy_record_dir
    root = _small_folder(toy_image_dir, str(tmp_path / "img"), per_class=1)
    out = ensure_records(root)
    assert out == root + "_records" and read_meta(out)["splits"] == {"train": 2, "validation": 2}
    stamp = os.path.getmtime(os.path.join(out, "meta.json"))
    assert ensure_records(root + "/") == out and os.path.getmtime(os.path.join(out, "meta.json")) == stamp


def test_write_index_rejects_truncated_file(tmp_path, toy_record_dir):
    shard = list_shards(toy_record_dir, "validation")[0]
    for cut_at in (-3, 4):  # inside the last record's data; inside the first length header
        cut = tmp_path / "cut"
        cut.write_bytes(open(shard, "rb").read()[:cut_at])
        with pytest.raises(ValueError, match="truncated TFRecord file .*cut"):
            write_index(str(cut), str(tmp_path / "cut.idx"))


def test_main_errors_are_one_line(toy_image_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    assert main(["--img_folder", toy_image_dir, "--save_dir", str(blocker / "x")]) == 2
    assert capsys.readouterr().err == "error: cannot write to save dir %s: Not a directory\n" % (blocker / "x")
    assert blocker.read_text() == "keep"
    assert main(["--img_folder", str(tmp_path / "none"), "--save_dir", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == "error: image folder %s does not exist\n" % (tmp_path / "none")


@pytest.mark.slow
def test_command_line_with_workers(toy_image_dir, tmp_path):
    script = os.path.join(ROOT, "dataset_miscs", "build_tfrs.py")
    out = tmp_path / "rec"
    ok = subprocess.run([sys.executable, script, "--img_folder", toy_image_dir, "--save_dir", str(out),
                         "--train_shards", "3", "--workers", "2"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "train: 160 images in 3 shards (3 written" in ok.stdout
    assert json.load(open(out / "meta.json"))["splits"] == {"train": 160, "validation": 40}


def test_places_builder_from_csv_lists(toy_image_dir, tmp_path):
    from dataset_miscs.build_tfrs_places import IMAGE_ROOT, build_places
    root = tmp_path / "base" / IMAGE_ROOT
    srcs = sorted(glob_files(toy_image_dir))[:11]
    rels = ["%s/%s/%02d.jpg" % (c[0], c, k) for k, c in enumerate(["abbey", "bar", "canyon"] * 4)][:11]
    for src, rel in zip(srcs, rels):
        os.makedirs(os.path.dirname(root / rel), exist_ok=True)
        shutil.copy(src, root / rel)
    labels = {"abbey": 0, "bar": 1, "canyon": 2}
    csv = tmp_path / "csv"
    csv.mkdir()
    lines = ["%s %d" % (r, labels[r.split("/")[1]]) for r in rels]
    (csv / "train_places205.csv").write_text("\n".join(lines[:9] + ["garbage-line"]) + "\n")
    (csv / "val_places205.csv").write_text("\n".join(lines[9:]) + "\n")
    logs = []
    out = tmp_path / "out"
    assert build_places(str(out), str(csv), str(tmp_path / "base"), run=False, log=logs.append) == \
        {"train": 9, "validation": 2} and not out.exists()
    build_places(str(out), str(csv), str(tmp_path / "base"), run=True, train_shards=4, val_shards=2, workers=1,
                 log=logs.append)
    assert any("skipped line 10" in m and "garbage-line" in m for m in logs)
    shards = ["train-%05d-00004" % i for i in range(5)] + ["validation-00000-00002", "validation-00001-00002"]
    assert sorted(os.listdir(out)) == ["build_state.json", "idx", "labels.txt", "meta.json"] + shards
    recs = read_records(str(out), "train")
    order = np.random.RandomState(0).permutation(9)
    assert [r[3] for r in recs] == [rels[i] for i in order] and [r[2] for r in recs] == list(range(9))
    assert [r[1] for r in recs] == [labels[rels[i].split("/")[1]] for i in order]
    assert [r[3] for r in read_records(str(out), "validation")] == rels[9:]
    assert read_meta(str(out))["class_names"] == ["a/abbey", "b/bar", "c/canyon"]
    with pytest.raises(ValueError, match="Places205 list .*nowhere/train_places205.csv does not exist"):
        build_places(str(out), str(tmp_path / "nowhere"), str(tmp_path))


def glob_files(image_dir):
    return [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(image_dir, "train")) for f in fs]


def test_save_dir_with_other_files_is_refused_untouched(toy_image_dir, tmp_path):
    root = _small_folder(toy_image_dir, str(tmp_path / "img"), per_class=1)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("keep")
    with pytest.raises(ValueError, match="save dir %s holds thesis.tex, which a record build did not write" % out):
        build_tfrecords(root, str(out), workers=1, log=lambda m: None)
    assert os.listdir(str(out)) == ["thesis.tex"] and not os.path.exists(str(out) + ".building")
