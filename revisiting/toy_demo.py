"""Revisiting on the toy data: rotation (ResNet-18 at filters_factor 2, 64 px) and jigsaw (RevNet-50 at
filters_factor 1, 24 px patches) pretraining, export of the trunks, and linear evaluation of every endpoint next
to a randomly initialised trunk of the same architecture, input and protocol.

    python -m revisiting.toy_demo --data data/toy/records --workdir train_logs/revisiting_toy
"""
import json
import os
import time

from common import cli
from revisiting import train_and_eval
from revisiting.data import split_size
from revisiting.export import export_module, export_path
from revisiting.flags import CONFIG_FILE
from common.eval.report import markdown_table
from common.config import load_config

PRETEXT_STEPS = {"rotation": 500, "jigsaw": 300}
EVAL_STEPS = {"rotation": 400, "jigsaw": 200}  # linear-eval steps, the same for the trained and random trunks
EVALS = {"rotation": "toy_eval_rotation_or_exemplar", "jigsaw": "toy_eval_jigsaw_or_relative_patch_location"}


def _cli(key, record_dir, workdir, *extra):
    argv = ["--config", "%s:%s" % (CONFIG_FILE, key), "--dataset_dir", record_dir,
            "--workdir", workdir] + list(extra)
    train_and_eval.main(argv)  # bad input raises ValueError naming the flag


def _schedule(key, record_dir, steps):
    """``--epochs`` for ``steps`` steps on ``record_dir`` and ``--decay_epochs`` at 70% of them."""
    cfg = load_config("%s:%s" % (CONFIG_FILE, key))
    epochs = steps * cfg["batch_size"] / float(split_size(record_dir, cfg["train_split"]))
    return ["--epochs", "%.6f" % epochs, "--decay_epochs", "%.6f" % (0.7 * epochs)]


def _linear_eval(task, module, record_dir, workdir):
    steps = _schedule(EVALS[task], record_dir, EVAL_STEPS[task])
    _cli(EVALS[task], record_dir, workdir, "--hub_module", module, *steps)
    with open(os.path.join(workdir, "results.json")) as f:
        return json.load(f)["results"]


def _row(method, results, notes, seconds=None):
    best = max(results, key=lambda k: results[k]["top1"])
    row = {"method": method, "linear_top1": results[best]["top1"],
           "notes": "%s; pre_logits %.1f%%, best layer %s" % (notes, 100 * results["pre_logits"]["top1"], best)}
    if seconds is not None:
        row["train_seconds"] = seconds
    return row


def run(record_dir, work_dir):
    """Pretrain rotation and jigsaw on ``record_dir``, evaluate them and random-init trunks linearly; print
    the per-paper table and return the cross-method rows."""
    rows, table = [], []
    for task in ("rotation", "jigsaw"):
        key = "toy_" + task
        workdir = os.path.join(work_dir, task)
        start = time.time()
        _cli(key, record_dir, workdir, *_schedule(key, record_dir, PRETEXT_STEPS[task]))
        seconds = time.time() - start
        _cli(key, record_dir, workdir, "--run_eval")
        with open(os.path.join(workdir, "eval_results.json")) as f:
            pretext = json.load(f)
        trained = _linear_eval(task, pretext["module"], record_dir, os.path.join(work_dir, task + "_linear"))
        cfg = load_config("%s:%s" % (CONFIG_FILE, key))
        random_module = export_module(None, export_path(os.path.join(work_dir, task + "_random")), cfg)
        random = _linear_eval(task, random_module, record_dir, os.path.join(work_dir, task + "_random_linear"))
        trunk = "%s filters_factor %s" % (cfg["architecture"], cfg["filters_factor"])
        notes = "%s, %d pretext steps, pretext val accuracy %.1f%%" % (trunk, PRETEXT_STEPS[task],
                                                                      100 * pretext["accuracy"])
        rows.append(_row("revisiting %s" % task, trained, notes, seconds))
        rows.append(_row("revisiting random init (%s trunk)" % task, random, trunk + ", untrained"))
        table.append((task, trained, random, pretext["accuracy"]))
    _print_table(table)
    return rows


def _print_table(table):
    layers = list(table[0][1])
    print("\nRevisiting toy linear evaluation, top-1 (%) per endpoint")
    rows = [[name] + ["%.1f" % (100 * res[k]["top1"]) for k in layers]
            for task, trained, random, _ in table for name, res in ((task, trained), (task + " random init", random))]
    print(markdown_table(["model"] + layers, rows))
    for task, _, _, accuracy in table:
        print("%s pretext accuracy (validation): %.1f%%" % (task, 100 * accuracy))


def main(argv=None):
    """Command line: ``--data`` record dir, ``--workdir``."""
    parser = cli.CliParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/toy/records", help="toy TFRecord dir")
    parser.add_argument("--workdir", default="train_logs/revisiting_toy")
    args = parser.parse_args(argv)
    for row in run(args.data, args.workdir):
        print(row)
    return 0


if __name__ == "__main__":
    cli.run(main)
