"""``python -m zoo list | convert RELEASE SRC --out DIR | features DIR INPUT --out FEATS.npy [--batch 64]``."""
from common import cli
from zoo.commands import main

if __name__ == "__main__":
    cli.run(main)
