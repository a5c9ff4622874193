"""The demo's cross-method table and its data step (idempotent: a second call reuses the built data)."""
import os

import demo.__main__ as demo_main


def test_table_formats_fractions_seconds_and_missing_values():
    table = demo_main.format_table([
        {"method": "counting (AlexNet)", "linear_top1": 0.4567, "train_seconds": 61.6},
        {"method": "supervised ResNet-18", "supervised_top1": 0.9, "knn_top1": None}])
    lines = table.splitlines()
    assert lines[0].startswith("| method | kNN top-1 | best linear top-1")
    assert lines[2] == "| counting (AlexNet) | - | 45.7% | - | 62 |"
    assert lines[3] == "| supervised ResNet-18 | - | - | 90.0% | - |"


def test_prepare_data_reuses_built_records(toy_image_dir, toy_record_dir, tmp_path, monkeypatch):
    data = tmp_path / "toy"
    os.makedirs(data / "images")
    for split in ("train", "val"):
        os.symlink(os.path.join(toy_image_dir, split), data / "images" / split)
    (data / "images" / ".complete").write_text("")
    os.symlink(toy_record_dir, data / "records")
    calls = []
    monkeypatch.setattr(demo_main, "_run", calls.append)
    assert demo_main.prepare_data(str(data)) == str(data / "records")
    assert calls == []
