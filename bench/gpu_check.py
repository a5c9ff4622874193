"""The GPU path in one prepared run: every paper on two GPU towers with DALI, the training steps (FP32/TF32,
AMP, XLA + AMP; NHWC and NCHW), DALI input, kNN and k-means on the GPU, as one table.

    python -m bench.gpu_check [--out DIR] [--cpu-dry-run [--jobs N]] [--only TEXT] [--timeout S]

Each row runs in its own subprocess with a timeout, so one failing row does not stop the others. Columns:
pass/fail, throughput (img/s, steps/s or seconds), peak GPU memory (the highest ``memory.used`` of GPU 0
that nvidia-smi reports, sampled every 0.2 s; '-' on the CPU), the issue's target (shown, never asserted),
wall seconds, and the error line of a failed row. The table is printed and written to
``DIR/gpu_check.{json,md}``; each row's log goes to ``DIR/logs/``. Exit status: 0 when every row passed,
1 when one failed, 2 on bad input (no GPU, GPU extras missing). ``--cpu-dry-run`` runs every row on the CPU
at tiny sizes (two CPU towers, tf.data).
"""
import argparse
import concurrent.futures
import glob
import json
import os
import re
import subprocess
import sys
import threading
import time

from bench import gpu_rows
from bench.gpu_probes import RESULT_PREFIX
from common import cli
from common.eval.report import markdown_table
from common.devices import available_gpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP_HINT = "make setup-gpu"
EXTRAS = (("TensorFlow's CUDA libraries (tensorflow[and-cuda]; TensorFlow sees no GPU)",
           "from common.tf1 import tf; assert tf.config.experimental.list_physical_devices('GPU')"),
          ("faiss with GPU support (faiss-gpu-cu12)", "import faiss; assert hasattr(faiss, 'StandardGpuResources')"),
          ("DALI for CUDA 12 (nvidia-dali-cuda120)", "import nvidia.dali"),
          ("DALI's TensorFlow plugin (nvidia-dali-tf-plugin-cuda120)", "import nvidia.dali.plugin.tf"))
PRINTED_RATE = re.compile(r"([\d.]+) images/s\b")
EPOCH_LINE = re.compile(r"Epoch \d+ \(global_step (\d+)\) finished, time:(.*?)\.\s*$", re.M)
TIME_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def missing_extra():
    """The first GPU extra that does not import (its description), or None."""
    for name, code in EXTRAS:
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        if proc.returncode:
            return name
    return None


def parse_seconds(text):
    """TensorPack's humanised duration ("1 minute 3.2 seconds") in seconds."""
    return sum(float(n) * TIME_UNITS[u] for n, u in re.findall(r"([\d.]+) (second|minute|hour|day)", text))


def script_rate(log, images_per_step):
    """Throughput of a training script from its last two TensorPack epoch lines (the last epoch alone when
    there is one): ``(value, unit)``, or None without epoch lines."""
    epochs = [(int(step), parse_seconds(t)) for step, t in EPOCH_LINE.findall(log)]
    if not epochs or epochs[-1][1] <= 0:
        return None
    steps = epochs[-1][0] - (epochs[-2][0] if len(epochs) > 1 else 0)
    rate = steps / epochs[-1][1]
    return (rate * images_per_step, "img/s") if images_per_step else (rate, "steps/s")


def printed_rate(log):
    """The last ``N images/s`` a tool printed (``python -m zoo features``) as ``(N, "img/s")``, or None."""
    found = PRINTED_RATE.findall(log)
    return (float(found[-1]), "img/s") if found else None


def images_per_step(row):
    """Images of one global step of a training row (see ``gpu_rows.Row``), or None."""
    if not row.images_per_step:
        return None
    flag, factor = row.images_per_step
    argv = row.commands[0]
    return int(argv[argv.index(flag) + 1]) * factor if flag in argv else None


class GpuMemoryPoller(threading.Thread):
    """Highest ``memory.used`` (MiB) of GPU 0 seen by nvidia-smi while running."""

    def __init__(self, period=0.2):
        super(GpuMemoryPoller, self).__init__(daemon=True)
        self.period, self.peak, self.done = period, None, threading.Event()

    def run(self):
        """Poll until ``done`` is set."""
        while not self.done.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits",
                                      "-i", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10,
                                     universal_newlines=True).stdout
                self.peak = max(self.peak or 0.0, float(out.split()[0]))
            except (OSError, subprocess.SubprocessError, ValueError, IndexError):
                pass
            self.done.wait(self.period)


def _expand(argv):
    out = []
    for arg in argv:
        if arg.startswith("glob:"):
            matches = sorted(glob.glob(arg[5:]), key=os.path.getmtime)
            arg = matches[-1] if matches else arg[5:]
        out.append(arg)
    return out


def error_line(log):
    """The most telling line of a failed run's output: the last ``error: ...`` or exception line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for pattern in (r"^error: ", r"^\w+(\.\w+)*(Error|Exception|Exit)\b", r"Error|error"):
        hits = [line for line in lines if re.search(pattern, line)]
        if hits:
            return hits[-1][:300]
    return lines[-1][:300] if lines else "no output"


def run_row(row, env, timeout, log_path, on_gpu):
    """Run one row's commands in subprocesses (in the repository root); returns its result dict (never raises
    for a failed row)."""
    poller = GpuMemoryPoller() if on_gpu else None
    if poller:
        poller.start()
    start, log, status = time.time(), "", "pass"
    for argv in row.commands:
        left = timeout - (time.time() - start)
        try:
            proc = subprocess.run(_expand(argv), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True, timeout=max(left, 1))
            log += "$ %s\n%s" % (" ".join(argv), proc.stdout)
            if proc.returncode:
                status, error = "fail", error_line(proc.stdout)
                break
        except subprocess.TimeoutExpired as e:
            out = e.stdout or ""
            log += "$ %s\n%s" % (" ".join(argv), out.decode("utf-8", "replace") if isinstance(out, bytes) else out)
            status, error = "fail", "timed out after %d s" % timeout
            break
    seconds = time.time() - start
    if poller:
        poller.done.set()
        poller.join()
    with open(log_path, "w") as f:
        f.write(log)
    result = {"row": row.name, "status": status, "throughput": "-", "peak_gpu_mib": poller.peak if poller else None,
              "target": row.target, "seconds": round(seconds, 1), "error": error if status == "fail" else ""}
    found = [line[len(RESULT_PREFIX):] for line in log.splitlines() if line.startswith(RESULT_PREFIX)]
    if status == "pass" and found:
        probe = json.loads(found[-1])
        result["throughput"] = "%.4g %s" % (probe["value"], probe["unit"])
    elif status == "pass":
        rate = script_rate(log, images_per_step(row)) or printed_rate(log)
        result["throughput"] = "%.4g %s" % rate if rate else "-"
    return result


def chains(rows):
    """Row indices grouped so that a row follows the row named in its ``after`` (in one chain)."""
    out, chain_of = [], {}
    for k, row in enumerate(rows):
        if row.after in chain_of:
            chain_of[row.after].append(k)
            chain_of[row.name] = chain_of[row.after]
        else:
            chain_of[row.name] = [k]
            out.append(chain_of[row.name])
    return out


def run_rows(rows, env, timeout, log_dir, on_gpu, jobs=1):
    """Results of every row, in row order; ``jobs`` chains of rows run at once; progress lines as they end."""
    results, lock = [None] * len(rows), threading.Lock()

    def run_chain(chain):
        for k in chain:
            r = results[k] = run_row(rows[k], env, timeout, os.path.join(log_dir, "%02d.log" % k), on_gpu)
            with lock:
                print("[%d/%d] %s: %s, %s, %.0f s%s" % (k + 1, len(rows), rows[k].name, r["status"],
                                                       r["throughput"], r["seconds"],
                                                       " (%s)" % r["error"] if r["error"] else ""), flush=True)
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(run_chain, chains(rows)))
    return results


def format_table(results):
    """Markdown table of the row results."""
    head = ["check", "result", "throughput", "peak GPU MiB", "target", "seconds", "error"]
    return markdown_table(head, [[r["row"], r["status"], r["throughput"],
                                  "%.0f" % r["peak_gpu_mib"] if r["peak_gpu_mib"] is not None else "-", r["target"],
                                  "%.1f" % r["seconds"], r["error"].replace("|", "/") or "-"] for r in results])


def write_results(out, results, header):
    """``out/gpu_check.json`` and ``out/gpu_check.md``."""
    with open(os.path.join(out, "gpu_check.json"), "w") as f:
        json.dump({"header": header, "rows": results}, f, indent=2)
    with open(os.path.join(out, "gpu_check.md"), "w") as f:
        f.write("%s\n\n%s\n" % (header, format_table(results)))


def prepare_records(data_dir, mode, env):
    """Toy TFRecords under ``data_dir`` (made once by the dataset_miscs scripts); returns the record dir."""
    size, train, val = (500, 64, 8) if mode is gpu_rows.GPU else (96, 16, 4)
    images, records = os.path.join(data_dir, "images_%d" % size), os.path.join(data_dir, "records_%d" % size)
    if not os.path.isfile(os.path.join(records, "meta.json")):
        for cmd in ([sys.executable, "dataset_miscs/make_toy_dataset.py", "--out", images, "--num-classes", "10",
                     "--train-per-class", str(train), "--val-per-class", str(val), "--size", str(size)],
                    [sys.executable, "dataset_miscs/build_tfrs.py", "--img_folder", images, "--save_dir", records,
                     "--train_shards", "2", "--val_shards", "1"]):
            proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True)
            if proc.returncode:
                raise ValueError("making the toy records failed: %s" % error_line(proc.stdout))
    return records


def parse_args(argv=None):
    """Flags of ``python -m bench.gpu_check``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="gpu_check_out", help="results, logs, toy records and runs go here")
    p.add_argument("--cpu-dry-run", action="store_true", help="every row on the CPU at tiny sizes (CI)")
    p.add_argument("--only", default="", help="run only the rows whose name contains this text")
    p.add_argument("--jobs", type=int, default=1, help="rows run at once (CPU dry run only; a GPU runs one)")
    p.add_argument("--timeout", type=int, default=None,
                   help="seconds per row (default: 240 on a GPU, 600 for the CPU dry run)")
    return p.parse_args(argv)


def check_can_run(args, on_gpu):
    """ValueError (one line) when the check cannot run: ``--jobs``, no GPU visible, a GPU extra missing."""
    if args.jobs < 1 or (on_gpu and args.jobs != 1):
        raise ValueError("--jobs %d: must be 1 on a GPU (timings and memory), >= 1 with --cpu-dry-run" % args.jobs)
    if on_gpu and not available_gpus():
        raise ValueError("no GPU visible (nvidia-smi lists none); `python -m bench.gpu_check --cpu-dry-run` checks "
                         "the same rows on the CPU")
    missing = missing_extra() if on_gpu else None
    if missing:
        raise ValueError("GPU extras missing: %s; install them with `%s`" % (missing, SETUP_HINT))


def main(argv=None):
    """Run the check; print the table; exit status 0 (all passed), 1 (a row failed) or 2 (cannot run)."""
    args = parse_args(argv)
    on_gpu = not args.cpu_dry_run
    if cli.exit_status(lambda: check_can_run(args, on_gpu)):
        return 2
    mode = gpu_rows.GPU if on_gpu else gpu_rows.CPU_DRY_RUN
    out = os.path.abspath(args.out)
    os.makedirs(os.path.join(out, "logs"), exist_ok=True)
    env = dict(os.environ, PYTHON=sys.executable, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    if not on_gpu:
        env["CUDA_VISIBLE_DEVICES"] = "-1"  # hides every GPU, also from nvidia-smi based device checks
    prepared = []
    if cli.exit_status(lambda: prepared.append(prepare_records(os.path.join(out, "data"), mode, env))):
        return 2
    records = prepared[0]
    work = os.path.join(out, "runs")
    rows = [r for r in gpu_rows.build_rows(mode, records, records, work) if args.only in r.name]
    if not on_gpu:  # the targets are GPU figures: label them so
        rows = [r._replace(target="GPU: " + r.target) if r.target != "-" else r for r in rows]
    timeout = args.timeout or (240 if on_gpu else 600)
    header = "bench.gpu_check (%s), %s" % (mode.name, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    print(header, flush=True)
    results = run_rows(rows, env, timeout, os.path.join(out, "logs"), on_gpu, args.jobs)
    write_results(out, results, header)
    print("\n" + format_table(results))
    failed = [r for r in results if r["status"] != "pass"]
    print("\n%d of %d rows passed; table and logs in %s" % (len(results) - len(failed), len(results), out))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
