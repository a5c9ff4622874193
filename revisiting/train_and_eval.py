"""The release's ``train_and_eval.py`` on TensorPack trainers: pretext / supervised training, ``--run_eval``
(validation metrics + export of the trunk), and ``--task linear_eval`` (``--run_eval``: test only).

    python revisiting/train_and_eval.py --config exp_configs/revisiting.json:rotation \
        --workdir train_logs/rotation --dataset_dir data/imagenet/records --gpu 0,1,2,3
    python revisiting/train_and_eval.py --task rotation --architecture revnet50 --filters_factor 16 \
        --last_relu True ...

Every flag of the release is accepted (``revisiting/flags.py``); an explicit flag overrides ``--set``, which
overrides the ``--config`` value. No ``--gpu``: every visible GPU; ``--gpu ''``: the CPU.
"""
import json
import os

from common import cli
from common.data.records import ensure_records
from common.devices import setup_devices
from common.tf1 import tf
from revisiting import linear_eval
from revisiting.export import export_module, export_path
from revisiting.flags import parse_flags
from revisiting.pretext import DONE_FILE, evaluate, task_setup, train


def run_eval(cfg, workdir, record_dir, poll_timeout=600):
    """The release's eval loop: evaluate and export every new checkpoint until TRAINING_IS_DONE; returns the
    last results (with ``module``, the exported directory)."""
    task_fn, net = task_setup(cfg, workdir)
    done = lambda: os.path.exists(os.path.join(workdir, DONE_FILE))  # noqa: E731
    if tf.train.latest_checkpoint(workdir) is None and done():
        raise ValueError("--workdir %s: no checkpoint to evaluate" % workdir)
    results = None
    for checkpoint in tf.train.checkpoints_iterator(workdir, timeout=poll_timeout, timeout_fn=done):
        results = evaluate(cfg, checkpoint, record_dir, task_fn, net)
        results["checkpoint"] = checkpoint
        results["module"] = export_module(checkpoint, export_path(workdir), cfg)
        print(json.dumps(results), flush=True)
        with open(os.path.join(workdir, "eval_results.json"), "w") as f:
            json.dump(results, f, indent=2)
        if done():
            break
    return results


def main(argv=None):
    """Entry point: parse, pick the devices, then train, evaluate or run the linear evaluation."""
    args, cfg = parse_flags("train_and_eval", argv)
    workdir = args.logdir
    towers = setup_devices(args)
    record_dir = ensure_records(cfg["dataset_dir"])
    if cfg["task"] == "linear_eval":
        results = linear_eval.run(cfg, workdir, record_dir, towers, args.trainer, eval_only=args.run_eval)
        print(json.dumps(results), flush=True)
    elif args.run_eval:
        run_eval(cfg, workdir, record_dir)
    else:
        train(cfg, workdir, record_dir, towers, args.trainer)
    return 0


if __name__ == "__main__":
    cli.run(main)
