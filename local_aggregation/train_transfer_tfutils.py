"""The release's multi-GPU entry point, an alias: ``train_transfer.py --gpu a,b,c,d`` already trains synchronous
towers."""
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from local_aggregation.train_transfer import main  # noqa: E402
from common import cli  # noqa: E402

if __name__ == "__main__":
    cli.run(main)
