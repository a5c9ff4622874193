"""Run one paper's toy demo in its own process and write its result rows as JSON.

    python -m demo.run_paper PAPER RECORD_DIR WORK_DIR OUT_JSON
"""
import importlib
import json
import sys


def main(argv=None):
    """Entry point: ``PAPER RECORD_DIR WORK_DIR OUT_JSON``."""
    paper, record_dir, work_dir, out_json = (argv or sys.argv[1:])
    rows = importlib.import_module(paper + ".toy_demo").run(record_dir, work_dir)
    with open(out_json, "w") as f:
        json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
