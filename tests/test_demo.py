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


def test_registry_drives_demo_and_step_benchmark():
    import importlib.util

    import papers
    from bench.step import list_steps
    names = papers.paper_names()
    assert names == ["counting", "instance_disc", "local_aggregation", "revisiting", "classification"]
    for paper in papers.PAPERS:
        for module in (paper.toy_module, paper.bench_module):
            assert module.split(".")[0] == paper.directory and importlib.util.find_spec(module), module
    assert {"classify", "counting", "instance_disc", "local_aggregation", "rotation"} <= set(list_steps())
    assert papers.get_paper("revisiting").bench_module == "revisiting.bench_step"


def test_run_paper_rejects_an_unregistered_paper(capsys):
    from demo import run_paper
    assert run_paper.main(["sixth", "R", "W", "out.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: paper 'sixth' is not registered; known: counting, instance_disc, local_aggregation, " \
                  "revisiting, classification"
