"""Phase 1 of the counting release: self-supervised counting pretraining of the AlexNet-v2 variant.

    python counting/counter_trn.py --batch_size 256 --exp_name cnt_gpu4_bz256_adam_250 --net alexnet \
        --learning_rate 0.0001 --gpu 0,1,2,3 --logits_dim 1000 --opt adam --epoch 250 \
        --learning_rate_var_name lr_cnt --max_iters 1251 [--data_dir DIR --ckpt_root DIR --config F.json:KEY]

Every tower reads its own batch of ``--batch_size`` images, as in the release (4 GPUs x 256 = 1024 per step).
Writes ``args.json``, checkpoints ``model-<step>`` (the last 2 kept), TensorBoard events and ``stats.json``
into ``<ckpt_root>/<project>/<exp_name>`` (or ``--logdir``) and resumes from there when re-run.
"""
import os

from common import cli, resume
from common.devices import setup_devices
from common.train import launch_train
from counting.data import counting_dataset, open_records, train_augment
from counting.flags import experiment_dir, parse_flags, resolve_max_iters, write_args_json
from counting.model import CountingModel
from counting.optimizers import counting_lr_schedule, release_schedule


def run(args, cfg):
    """Train the counting model as ``args``/``cfg`` say; returns the experiment directory."""
    towers = setup_devices(args)
    device = "cpu" if towers.on_cpu else "gpu"  # DALI: mixed JPEG decode and GPU augmentation on a GPU
    record_dir, meta = open_records(args.data_dir)
    steps = resolve_max_iters(args, meta["splits"]["train"], towers)
    logdir = args.logdir or experiment_dir(args.ckpt_root, args.exp_name)
    model = CountingModel(args.batch_size, cfg["image_size"], args.logits_dim, args.opt, margin=cfg["margin"],
                          backbone=args.backbone)
    augment = train_augment(cfg["image_size"], cfg["crop_scale"], cfg["color_jitter"], cfg["grayscale_prob"])
    dataset = counting_dataset(record_dir, "train", args.batch_size, augment, args.reader, device=device)
    schedule = release_schedule(counting_lr_schedule(args.epoch, args.learning_rate, **cfg["cnt_schedule"]),
                                args.learning_rate, args.learning_rate_var_name)
    experiment = {"phase": "counter", "net": args.backbone, "logits_dim": args.logits_dim,
                  "image_size": cfg["image_size"]}
    resume.check_experiment(logdir, experiment)
    os.makedirs(logdir, exist_ok=True)
    write_args_json(args, os.path.join(logdir, "args.json"), train_dir=logdir, nr_gpu=len(towers),
                    steps_per_epoch=steps, checkpoint=resume.latest_checkpoint(logdir),
                    img_height=cfg["image_size"], img_width=cfg["image_size"], img_ch=3)
    launch_train(model, dataset, logdir, steps, args.epoch, towers, trainer=args.trainer, max_to_keep=2,
                 lr_schedule=schedule,
                 experiment=experiment)
    return logdir


def main(argv=None):
    """Command-line entry point (``cli.run``: bad input is one ``error: ...`` line and exit status 2)."""
    args, cfg = parse_flags("counter_trn", argv)
    run(args, cfg)


if __name__ == "__main__":
    cli.run(main)
