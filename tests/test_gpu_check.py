"""bench.gpu_check: its parsing helpers, its bad-input lines, and the whole CPU dry run (every row passes)."""
import json
import os
import subprocess
import sys

import pytest

from bench import gpu_check, gpu_rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_tensorpack_durations_and_script_throughput():
    assert gpu_check.parse_seconds("0.01 seconds") == pytest.approx(0.01)
    assert gpu_check.parse_seconds("1 minute 27 seconds") == pytest.approx(87)
    assert gpu_check.parse_seconds("1 hour 1 second") == pytest.approx(3601)
    log = ("[x] Epoch 1 (global_step 10) finished, time:12.5 seconds.\n"
           "[x] Epoch 2 (global_step 30) finished, time:4 seconds.\n")
    assert gpu_check.script_rate(log, 8) == (pytest.approx(20 / 4 * 8), "img/s")
    assert gpu_check.script_rate(log.splitlines()[0], None) == (pytest.approx(10 / 12.5), "steps/s")
    assert gpu_check.script_rate("no epochs here", 8) is None
    assert gpu_check.printed_rate("zoo features: 9 images, dim 128, 1.5 images/s -> f\nx 2034.5 images/s -> g") == \
        (pytest.approx(2034.5), "img/s")
    assert gpu_check.printed_rate("no rate") is None


def test_error_line_prefers_error_then_exception_lines():
    assert gpu_check.error_line("a\nerror: --gpu 3: GPU 3 does not exist\nTraceback\nb") == \
        "error: --gpu 3: GPU 3 does not exist"
    assert gpu_check.error_line("Traceback (most recent call last):\n  x\nValueError: bad\n") == "ValueError: bad"
    assert gpu_check.error_line("") == "no output"


def test_override_replaces_appends_and_keeps():
    argv = ["--a", "1", "--b", "2"]
    assert gpu_rows.override(argv, {"--a": "9", "--c": "3", "--b": None}) == ["--a", "9", "--b", "2", "--c", "3"]
    assert argv == ["--a", "1", "--b", "2"]


def test_rows_cover_the_issue_and_use_each_mode_s_devices(tmp_path):
    for mode in (gpu_rows.GPU, gpu_rows.CPU_DRY_RUN):
        rows = gpu_rows.build_rows(mode, "REC", "FULL", str(tmp_path))
        names = " / ".join(r.name for r in rows)
        for part in ("counting phase 1", "counting phase 2", "instance_disc", "IR then LA", "rotation linear eval",
                     "10-crop", "XLA + AMP NCHW", "FP32 NHWC", "bench.step counting", "bench.step instance_disc",
                     "bench.step local_aggregation", "bench.step rotation", "input dali", "input tfdata", "kNN",
                     "k-means", "zoo convert + features"):
            assert part in names, (mode.name, part)
        resnet_rows = [r for r in rows if r.name.startswith("bench.step resnet50 ")]
        assert len(resnet_rows) == 6 and all(r.commands[0][r.commands[0].index("--model") + 1] == "resnet50"
                                             for r in resnet_rows)  # the CPU dry run too: bottleneck blocks
        assert "bench.step instance_disc (resnet50)" in names
        counting = rows[0].commands[0]
        assert counting[counting.index("--gpu") + 1] == ("0,1" if mode is gpu_rows.GPU else "")
        assert counting[counting.index("--reader") + 1] == mode.reader
    gpu = gpu_rows.build_rows(gpu_rows.GPU, "REC", "FULL", str(tmp_path))
    assert "--logical_gpus" in gpu[0].commands[0] and gpu_check.images_per_step(gpu[0]) == 512
    assert any("30000" in r.name and "1281167" in r.name for r in gpu)


def test_no_gpu_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(gpu_check, "available_gpus", lambda: [])
    assert gpu_check.main(["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no GPU visible") and "--cpu-dry-run" in err[0]


def test_missing_gpu_extra_names_package_and_install_command(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(gpu_check, "available_gpus", lambda: [0])

    class Done(object):
        def __init__(self, code):
            self.returncode = code

    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd[-1])
        return Done(1 if "faiss" in cmd[-1] else 0)
    monkeypatch.setattr(gpu_check.subprocess, "run", fake_run)
    assert gpu_check.main(["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: GPU extras missing: faiss with GPU support (faiss-gpu-cu12); install them with " \
                  "`make setup-gpu`"
    assert len(calls) == 2  # stops at the first missing extra


def test_a_failing_row_is_reported_and_does_not_stop_the_next(tmp_path):
    bad = gpu_rows.Row("bad", [[sys.executable, "-c", "import sys; sys.exit('error: --x 1: broken')"]], "-", None)
    good = gpu_rows.Row("good", [[sys.executable, "-m", "bench.gpu_probes", "kmeans", "--bank", "300", "--k", "3"]],
                        "-", None)
    results = [gpu_check.run_row(r, dict(os.environ, PYTHONPATH=ROOT), 120, str(tmp_path / r.name), False)
               for r in (bad, good)]
    assert [r["status"] for r in results] == ["fail", "pass"]
    assert results[0]["error"] == "error: --x 1: broken" and results[1]["throughput"].endswith(" s")
    table = gpu_check.format_table(results).splitlines()
    assert table[2].startswith("| bad | fail | - | - | - |") and table[3].startswith("| good | pass |")


@pytest.mark.slow
def test_cpu_dry_run_passes_every_row(tmp_path):
    """The whole check on the CPU at tiny sizes: the paper scripts' flags, the probes and the table stay alive."""
    proc = subprocess.run([sys.executable, "-m", "bench.gpu_check", "--cpu-dry-run", "--jobs", "2", "--out",
                           str(tmp_path)],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    with open(tmp_path / "gpu_check.json") as f:
        rows = json.load(f)["rows"]
    failed = ["%s: %s" % (r["row"], r["error"]) for r in rows if r["status"] != "pass"]
    assert proc.returncode == 0 and not failed, "\n".join(failed) or proc.stdout[-3000:]
    assert len(rows) == len(gpu_rows.build_rows(gpu_rows.CPU_DRY_RUN, "R", "R", "W"))
    assert all(r["peak_gpu_mib"] is None for r in rows)
    measured = [r for r in rows if not r["row"].startswith("revisiting")]
    assert all(r["throughput"] != "-" for r in measured), [r["row"] for r in measured if r["throughput"] == "-"]
    assert (tmp_path / "gpu_check.md").read_text().count("| pass |") == len(rows)


def test_dependent_rows_share_a_chain():
    rows = [gpu_rows.Row(n, [], "-", None, after=a) for n, a in
            (("p1", None), ("x", None), ("p2", "p1"), ("p3", "p2"), ("y", "missing"))]
    assert gpu_check.chains(rows) == [[0, 2, 3], [1], [4]]


def test_a_row_past_its_timeout_fails_with_its_output_logged(tmp_path):
    row = gpu_rows.Row("slow", [[sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"]],
                       "-", None)
    result = gpu_check.run_row(row, dict(os.environ), 2, str(tmp_path / "log"), False)
    assert result["status"] == "fail" and result["error"] == "timed out after 2 s" and result["seconds"] < 20
    assert "started" in (tmp_path / "log").read_text()
