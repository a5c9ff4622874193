"""Run one registered paper's toy run in its own process and write its result rows as JSON: the one command
line shape of every paper's toy run.

    python -m demo.run_paper PAPER RECORD_DIR WORK_DIR OUT_JSON [--seed N]

The run is seeded (``--seed``, default 0; ``common.seeding``), so two runs on one machine print the same figures.
``PAPER`` is a name from the paper registry (``papers.py``); its toy module's ``run(record_dir, work_dir)``
returns the rows (keys ``method``, ``knn_top1`` / ``linear_top1`` / ``supervised_top1``, ``train_seconds``,
``notes``; see docs/papers.md).
"""
import importlib
import json
import sys

from common import cli, seeding
from papers import get_paper

DEMO_SEED = 0
USAGE = "usage: python -m demo.run_paper PAPER RECORD_DIR WORK_DIR OUT_JSON [--seed N]"


def main(argv=None):
    """Entry point: ``PAPER RECORD_DIR WORK_DIR OUT_JSON [--seed N]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    return cli.exit_status(lambda: _run(args))


def _run(args):
    seed = DEMO_SEED
    if len(args) == 6 and args[4] == "--seed" and args[5].isdigit():
        seed, args = int(args[5]), args[:4]
    if len(args) != 4:
        raise ValueError(USAGE)
    paper, record_dir, work_dir, out_json = args
    module = get_paper(paper).toy_module
    seeding.set_seed(seed)
    rows = importlib.import_module(module).run(record_dir, work_dir)
    with open(out_json, "w") as f:
        json.dump(rows, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
