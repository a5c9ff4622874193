"""The GPU check's ``zoo features`` row needs a published file: this writes one, the Local Aggregation release's
checkpoint tar of its ResNet with random weights (tests/la_release_writer.py), into a fresh folder.

    python -m tests.zoo_row_source --work DIR [--depth 50] [--bank-rows 1000]

DIR is emptied first (so ``zoo convert --out DIR/model`` never meets an earlier run's model); prints the tar's path.
"""
import os
import shutil

import numpy as np

from common import cli
from tests.la_release_writer import write_release_tar


def main(argv=None):
    """Write ``DIR/source/checkpoint-<step>.tar``."""
    parser = cli.CliParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", required=True, help="folder to (re)create")
    parser.add_argument("--depth", type=int, default=50, choices=(18, 50))
    parser.add_argument("--bank-rows", type=int, default=1000, help="rows of the stored memory bank")
    args = parser.parse_args(argv)
    shutil.rmtree(args.work, ignore_errors=True)
    source = os.path.join(args.work, "source")
    os.makedirs(source)
    images = np.zeros((1, 32, 32, 3), np.float32)
    tar_path, _ = write_release_tar(source, images, depth=args.depth, bank_rows=args.bank_rows)
    print(tar_path)
    return 0


if __name__ == "__main__":
    cli.run(main)
