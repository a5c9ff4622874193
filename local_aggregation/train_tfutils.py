"""The release's multi-GPU entry point, an alias: ``train.py --gpu a,b,c,d`` already trains synchronous
towers."""
from common import cli
from local_aggregation.train import main

if __name__ == "__main__":
    cli.run(main)
