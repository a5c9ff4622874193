"""Counting end to end on the toy records: pretraining, then linear probes on counting and on random frozen convs.

    python -m counting.toy_demo RECORD_DIR WORK_DIR

``run(record_dir, work_dir)`` goes through the same code as the two scripts (``exp_configs/counting.json:toy``),
prints the per-layer table of both feature sets next to the release's and the paper's ImageNet numbers,
writes it to ``WORK_DIR/probe_table.{json,md,png}`` and returns the rows of the cross-method table.
"""
import collections
import json
import os
import time

from common import cli
from common.eval.report import report_markdown, write_report
from common.tf1 import tf
from counting import classifier_trn, counter_trn
from counting.flags import CONFIG_FILE, parse_flags
from counting.report import reference_columns

__all__ = ["run", "loss_curve"]

CONFIG = CONFIG_FILE + ":toy"


def _phase(script, argv):
    """Run the phase of ``script`` (a module of ``SCRIPTS``) in a fresh graph; returns (its result, seconds)."""
    args, cfg = parse_flags(script.__name__.rsplit(".", 1)[-1], argv)
    start = time.time()
    with tf.Graph().as_default():
        result = script.run(args, cfg)
    return result, time.time() - start


def _row(method, results, seconds, notes):
    best = max(results, key=results.get)
    return {"method": method, "linear_top1": results[best], "train_seconds": round(seconds, 1),
            "notes": "best layer %s; %s" % (best, notes)}


def loss_curve(exp_dir):
    """Per-epoch counting loss, pair and unpair (moving averages over steps) from the run's ``stats.json``."""
    with open(os.path.join(exp_dir, "stats.json")) as f:
        return [(r["epoch_num"], r["loss_sum"], r["loss_pair"], r["loss_unpair"]) for r in json.load(f)]


def run(record_dir, work_dir, config=CONFIG):
    """Pretrain counting, probe counting and random frozen features; print the table, return the rows."""
    common = ["--config", config, "--data_dir", record_dir, "--ckpt_root", os.path.join(work_dir, "ckpt"),
              "--gpu", ""]
    cnt_dir, cnt_seconds = _phase(counter_trn, common + ["--exp_name", "cnt_toy"])
    curve = loss_curve(cnt_dir)
    counted, probe_seconds = _phase(classifier_trn, common + ["--exp_name", "cls_toy", "--pretrained",
                                                              "--cnt_exp_name", "cnt_toy"])
    random, random_seconds = _phase(classifier_trn, common + ["--exp_name", "cls_toy_random", "--random_features"])
    columns = collections.OrderedDict([("counting (toy)", counted), ("random frozen (toy)", random)])
    columns.update(reference_columns())
    title = "Counting linear probes, top-1 per layer"
    write_report(columns, work_dir, title, name="probe_table")
    print("counting loss at the end of each epoch, moving average (loss = pair + unpair): " + ", ".join(
        "%d: %.2f = %.2f + %.2f" % point for point in curve))
    print(report_markdown(columns, title))
    print("counting pretraining %.0f s, probes %.0f s (counting) + %.0f s (random)"
          % (cnt_seconds, probe_seconds, random_seconds))
    return [_row("counting (AlexNet-v2, linear probes)", counted, cnt_seconds + probe_seconds,
                 "train_seconds = pretraining + probes; counting loss %.2f -> %.2f" % (curve[0][1], curve[-1][1])),
            _row("random-init AlexNet-v2 (frozen, linear probes)", random, random_seconds,
                 "baseline for counting")]


def main(argv=None):
    """Command-line entry point: ``RECORD_DIR WORK_DIR``."""
    parser = cli.CliParser(description=__doc__.split("\n")[0])
    parser.add_argument("record_dir", help="toy TFRecord directory (data/toy/records)")
    parser.add_argument("work_dir", help="checkpoints and probe_table.{json,md,png}")
    args = parser.parse_args(argv)
    run(args.record_dir, args.work_dir)


if __name__ == "__main__":
    cli.run(main)
