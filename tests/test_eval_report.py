"""common.eval.report: the Markdown table helper and the JSON / Markdown / PNG report writer; linear_report."""
import json
import os

import pytest

from common.eval.linear import linear_report
from common.eval.report import markdown_table, report_markdown, write_report

PNG = b"\x89PNG\r\n\x1a\n"


def test_markdown_table():
    text = markdown_table(["a", "b c"], [[1, "x"], [None, 2.5]])
    assert text.split("\n") == ["| a | b c |", "|---|---|", "| 1 | x |", "| - | 2.5 |"]
    with pytest.raises(ValueError, match="a row has 1 cells for 2 columns"):
        markdown_table(["a", "b"], [[1]])


def test_write_report_columns_rows_and_missing_cells(tmp_path):
    columns = {"run": {"conv1": 0.1234, "conv2": 0.5}, "paper": {"conv2": 0.306, "conv3": 0.343}}
    paths = write_report(columns, str(tmp_path), "t", name="probe", chart=["paper"], extra={"note": 1})
    assert [os.path.basename(p) for p in paths] == ["probe.json", "probe.md", "probe.png"]
    assert json.load(open(paths[0])) == {"title": "t", "columns": columns, "note": 1}
    lines = open(paths[1]).read().split("\n")
    assert lines[:4] == ["# t", "", "| layer | run (%) | paper (%) |", "|---|---|---|"]
    assert lines[4:7] == ["| conv1 | 12.34 | - |", "| conv2 | 50.00 | 30.60 |", "| conv3 | - | 34.30 |"]
    assert open(paths[1]).read() == report_markdown(columns, "t")
    assert open(paths[2], "rb").read(8) == PNG


def test_write_report_rejects_before_writing(tmp_path):
    good = {"run": {"conv1": 0.5}}
    paths = write_report(good, str(tmp_path), "t")
    with pytest.raises(ValueError, match=r"column 'run', row 'conv1' needs a fraction in \[0, 1\], got 18.6"):
        write_report({"run": {"conv1": 18.6}}, str(tmp_path), "t")
    with pytest.raises(ValueError, match="chart column 'x' is not a column"):
        write_report(good, str(tmp_path), "t", chart=["x"])
    assert json.load(open(paths[0]))["columns"] == good  # a failed call loses nothing already written


def test_linear_report(tmp_path):
    results = {"conv1": {"top1": 0.186, "top5": 0.4}, "conv2": {"top1": 0.303, "top5": 0.55}}
    paths = linear_report(results, str(tmp_path), "counting", reference={"conv1": 18.0, "conv2": 30.6})
    assert [os.path.basename(p) for p in paths] == ["results.json", "results.md", "results.png"]
    saved = json.load(open(paths[0]))
    assert saved["results"] == results and saved["reference_top1_percent"]["conv2"] == 30.6
    assert saved["columns"]["reference top-1"]["conv2"] == pytest.approx(0.306)
    table = open(paths[1]).read()
    assert "| layer | top-1 (%) | top-5 (%) | reference top-1 (%) |" in table
    assert "| conv1 | 18.60 | 40.00 | 18.00 |" in table and "| conv2 | 30.30 | 55.00 | 30.60 |" in table
    assert open(paths[2], "rb").read(8) == PNG
    noref = linear_report(results, str(tmp_path / "noref"), "no reference")
    assert "| conv2 | 30.30 | 55.00 |\n" in open(noref[1]).read()
    with pytest.raises(ValueError, match=r"results\['conv1'\] needs top1 and top5"):
        linear_report({"conv1": {"top1": 0.5}}, str(tmp_path), "bad")
    with pytest.raises(ValueError, match="needs a fraction"):
        linear_report({"conv1": {"top1": 18.6, "top5": 0.4}}, str(tmp_path), "bad")
    assert json.load(open(paths[0]))["results"] == results
