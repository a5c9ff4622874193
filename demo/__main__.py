"""The main job on the toy data: make the toy images, build their TFRecords, benchmark the readers, run
every paper end to end (each in its own process) and print one table comparing the methods.

    python -m demo [--data data/toy] [--paper all|none|NAME]

The papers and their order come from the paper registry (``papers.py``). Idempotent: the images and records
are made once and reused; each paper's run directory is made afresh.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from common.eval.report import markdown_table
from demo.run_paper import DEMO_SEED
from papers import paper_names

COLUMNS = [("method", "method"), ("knn_top1", "kNN top-1"), ("linear_top1", "best linear top-1"),
           ("supervised_top1", "supervised top-1"), ("train_seconds", "train time (s)")]


def _run(cmd):
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def prepare_data(data_dir):
    """Make the toy images and their TFRecords under ``data_dir`` unless already there; return the record dir."""
    image_dir = os.path.join(data_dir, "images")
    record_dir = os.path.join(data_dir, "records")
    if not os.path.isfile(os.path.join(image_dir, ".complete")):
        _run([sys.executable, "dataset_miscs/make_toy_dataset.py", "--out", image_dir])
        open(os.path.join(image_dir, ".complete"), "w").close()
    if not os.path.isfile(os.path.join(record_dir, "meta.json")):
        _run([sys.executable, "dataset_miscs/build_tfrs.py", "--save_dir", record_dir, "--img_folder", image_dir])
    return record_dir


def format_table(rows):
    """Markdown table of the cross-method rows (missing values as '-')."""
    def cell(key, value):
        if value is None:
            return "-"
        if key == "train_seconds":
            return "%.0f" % value
        if isinstance(value, float):
            return "%.1f%%" % (100 * value)
        return str(value)
    return markdown_table([title for _, title in COLUMNS], [[cell(k, row.get(k)) for k, _ in COLUMNS] for row in rows])


def main(argv=None):
    """Run the demo; returns the list of result rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/toy", help="where the toy images, records and runs live")
    parser.add_argument("--paper", default="all", choices=["all", "none"] + paper_names(),
                        help="run one paper alone ('none': data and input benchmark only)")
    parser.add_argument("--skip-bench", action="store_true", help="skip the input benchmark")
    args = parser.parse_args(argv)

    start = time.time()
    record_dir = prepare_data(args.data)
    if not args.skip_bench:
        _run([sys.executable, "-m", "bench.input", "--data", record_dir])

    papers = paper_names() if args.paper == "all" else [] if args.paper == "none" else [args.paper]
    rows = []
    for paper in papers:
        work_dir = os.path.join(args.data, "runs", paper)
        shutil.rmtree(work_dir, ignore_errors=True)
        os.makedirs(work_dir)
        print("\n=== %s ===" % paper, flush=True)
        t0 = time.time()
        out_json = os.path.join(work_dir, "rows.json")
        _run([sys.executable, "-m", "demo.run_paper", paper, record_dir, work_dir, out_json, "--seed",
              str(DEMO_SEED)])
        with open(out_json) as f:
            rows.extend(json.load(f))
        print("%s finished in %.0f s" % (paper, time.time() - t0), flush=True)

    if rows:
        table = format_table(rows)
        with open(os.path.join(args.data, "results.md"), "w") as f:
            f.write(table + "\n")
        with open(os.path.join(args.data, "results.json"), "w") as f:
            json.dump(rows, f, indent=2)
        print("\nAll methods on the same toy data (%s):\n%s" % (record_dir, table))
    print("\ndemo finished in %.1f minutes" % ((time.time() - start) / 60))
    return rows


if __name__ == "__main__":
    main()
