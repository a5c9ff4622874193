"""Instance discrimination on the toy records: kNN of the trained ResNet-18 next to its random initialisation.

    python -m instance_disc.toy_demo --data data/toy/records --work-dir data/toy/runs/instance_disc
"""
import json
import os
import time

from common import cli
from common.eval.report import markdown_table
from common.config import load_config
from common.data.records import read_meta
from common.resume import latest_checkpoint
from instance_disc import main as main_script
from instance_disc.flags import CONFIG_FILE, parse_flags, record_input
from instance_disc.inputs import record_data
from instance_disc.model import objective_name
from instance_disc.runner import evaluate, one_line_errors
from instance_disc.show_neighbors import show_neighbors

__all__ = ["CONFIG_KEY", "run", "main"]

CONFIG_KEY = "toy"


def run(record_dir, work_dir, overrides=None):
    """Train on ``record_dir`` into ``work_dir``, print the per-paper table, return the cross-method rows.

    ``overrides``: ``{key: value}`` on top of the ``toy`` config (the tests shrink the run with it).
    """
    spec = "%s:%s" % (CONFIG_FILE, CONFIG_KEY)
    cfg = load_config(spec, overrides)
    data = record_data(record_dir, read_meta(record_dir), record_input(cfg))
    random_init = evaluate(cfg, data, None, recompute=True)
    logdir = os.path.join(work_dir, "train")
    sets = sum((["--set", "%s=%s" % (k, v if isinstance(v, str) else json.dumps(v))]
                for k, v in sorted((overrides or {}).items())), [])
    start = time.time()
    argv = [record_dir, "--config", spec, "--logdir", logdir, "--recompute-memory"] + sets
    trained = one_line_errors(main_script.run, *parse_flags("main", argv))
    seconds = time.time() - start
    precision = show_neighbors(cfg, record_dir, latest_checkpoint(logdir), os.path.join(work_dir, "neighbors.png"))
    key = "knn%d_recomputed" % cfg["knn_k"]
    bank_key = "knn%d_bank" % cfg["knn_k"]
    title = "instance_disc (toy, %s, %s, K=%d, T=%g, %d epochs)" % (cfg["arch"], objective_name(cfg), cfg["nce_k"],
                                                                     cfg["nce_t"], cfg["epochs"])
    print("\n" + markdown_table([title, "kNN top-1 (train feats recomputed)", "kNN top-1 (memory bank)"], [
        ["random init", "%.1f%%" % (100 * random_init[key]["top1"]), None],
        ["trained (%.0f s)" % seconds, "%.1f%%" % (100 * trained[key]["top1"]),
         "%.1f%%" % (100 * trained[bank_key]["top1"])]]))
    print("neighbour grid: %s (%.0f%% of the top-10 neighbours share the query's class)"
          % (os.path.join(work_dir, "neighbors.png"), 100 * precision))
    note = "weighted kNN K=%d, sigma=%g, %s px" % (cfg["knn_k"], cfg["nce_t"], cfg["image_size"])
    objective = {"nce": "NCE", "softmax": "full softmax", "softmax_ce": "Softmax-CE"}[objective_name(cfg)]
    return [{"method": "instance_disc %s (%s)" % (objective, cfg["arch"]), "knn_top1": trained[key]["top1"],
             "train_seconds": seconds, "notes": note},
            {"method": "instance_disc random init (%s)" % cfg["arch"], "knn_top1": random_init[key]["top1"],
             "notes": note}]


def main(argv=None):
    """Run the demo on ``--data`` into ``--work-dir``."""
    parser = cli.CliParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/toy/records", help="toy TFRecord directory")
    parser.add_argument("--work-dir", default="data/toy/runs/instance_disc", help="where the run is written")
    args = parser.parse_args(argv)
    run(args.data, args.work_dir)


if __name__ == "__main__":
    cli.run(main)
