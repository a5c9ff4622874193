"""Counting probe report: reading the last validation from stats.json; the reference columns in the report."""
import json
import os

import pytest

from common.eval.report import write_report
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


def test_probe_report_of_counting_columns(tmp_path):
    columns = {"toy": dict(zip(report.LAYERS, (0.1, 0.2, 0.3, 0.4, 0.5)))}
    columns.update(report.reference_columns())
    paths = write_report(columns, str(tmp_path), "t", name="probe_table")
    assert [os.path.basename(p) for p in paths] == ["probe_table.json", "probe_table.md", "probe_table.png"]
    table = open(paths[1]).read()
    assert "| layer | toy (%) | release (ImageNet) (%) | paper (ImageNet) (%) |" in table
    assert "| conv2 | 20.00 | 30.30 | 30.60 |" in table and "| conv5 | 50.00 | 24.90 | 25.70 |" in table
    assert json.load(open(paths[0]))["columns"]["release (ImageNet)"]["conv4"] == pytest.approx(0.301)
