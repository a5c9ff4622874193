"""Counting probe report: reading the last validation from stats.json and the side-by-side table files."""
import json

import pytest

from counting import report


def test_results_from_stats_takes_the_last_validated_epoch(tmp_path):
    stats = [{"epoch_num": 1, "loss/loss": 2.0}]
    stats.append(dict({"epoch_num": 2}, **{"val_top1_accuracy_conv%d" % k: 0.1 * k for k in range(1, 6)}))
    stats.append({"epoch_num": 3, "loss/loss": 1.0})
    (tmp_path / "stats.json").write_text(json.dumps(stats))
    res = report.results_from_stats(str(tmp_path / "stats.json"))
    assert list(res) == list(report.LAYERS) and res["conv3"] == pytest.approx(0.3)
    (tmp_path / "empty.json").write_text(json.dumps(stats[:1]))
    with pytest.raises(ValueError, match="no epoch with val_top1_accuracy_"):
        report.results_from_stats(str(tmp_path / "empty.json"))


def test_write_probe_report_files_and_values(tmp_path):
    columns = {"toy": dict(zip(report.LAYERS, (0.1, 0.2, 0.3, 0.4, 0.5)))}
    columns.update(report.reference_columns())
    paths = report.write_probe_report(columns, str(tmp_path), "t")
    assert [p.rsplit(".", 1)[1] for p in paths] == ["json", "md", "png"]
    table = open(paths[1]).read()
    assert "| conv2 | 20.0 | 30.3 | 30.6 |" in table and "| conv5 | 50.0 | 24.9 | 25.7 |" in table
    assert json.load(open(paths[0]))["top1"]["release (ImageNet)"]["conv4"] == pytest.approx(0.301)
    assert open(paths[2], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="conv1 needs a top-1 fraction"):
        report.write_probe_report({"bad": dict(columns["toy"], conv1=18.0)}, str(tmp_path), "t")
