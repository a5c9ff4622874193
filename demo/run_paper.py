"""Run one registered paper's toy run in its own process and write its result rows as JSON: the one command
line shape of every paper's toy run.

    python -m demo.run_paper PAPER RECORD_DIR WORK_DIR OUT_JSON

``PAPER`` is a name from the paper registry (``papers.py``); its toy module's ``run(record_dir, work_dir)``
returns the rows (keys ``method``, ``knn_top1`` / ``linear_top1`` / ``supervised_top1``, ``train_seconds``,
``notes``; see docs/papers.md).
"""
import importlib
import json
import sys

from papers import get_paper


def main(argv=None):
    """Entry point: ``PAPER RECORD_DIR WORK_DIR OUT_JSON``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 4:
        print("error: usage: python -m demo.run_paper PAPER RECORD_DIR WORK_DIR OUT_JSON", file=sys.stderr)
        return 2
    paper, record_dir, work_dir, out_json = args
    try:
        module = get_paper(paper).toy_module
    except ValueError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    rows = importlib.import_module(module).run(record_dir, work_dir)
    with open(out_json, "w") as f:
        json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
