"""The input benchmark (``python -m bench.input``): its table's rows, and one error line for a bad reader."""
import subprocess
import sys

import pytest

from bench.input import main as bench_main


@pytest.mark.slow
def test_input_benchmark_command_line(toy_record_dir):
    run = subprocess.run([sys.executable, "-m", "bench.input", "--data", toy_record_dir, "--images", "64", "--batch",
                          "16", "--repeats", "1", "--readers", "tfdata,dali"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and "images/s" not in line]
    assert [r.split("|")[1].strip().split(" ")[0] for r in rows] == ["opencv", "tfdata", "tfdata", "dali", "dali"]
    assert all(float(r.split("|")[3]) > 0 for r in rows) and "target <= 1.5" in run.stdout


def test_input_benchmark_bad_reader(toy_record_dir, capsys):
    assert bench_main(["--data", toy_record_dir, "--readers", "torch"]) == 2
    assert capsys.readouterr().err == "error: unknown reader(s) torch: expected tfdata, dali\n"
