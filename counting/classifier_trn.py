"""Phase 2 of the counting release: linear classifiers on the frozen conv1..conv5 of a counting experiment.

    python counting/classifier_trn.py --exp_name cls_gpu2_bz256_adam_250 --pretrained \
        --cnt_exp_name cnt_gpu4_bz256_adam_250 --batch_size 256 --learning_rate 0.001 --opt adam --epoch 250 \
        --net alexnet --learning_rate_var_nam lr_cls --gpu 0,1
    python counting/classifier_trn.py --exp_name cls_random --random_features ...   (random frozen features)

Validates every ``eval_every_epochs`` (2, as the release) and after the last epoch on the whole validation
split, logs the top-1 accuracy (a fraction) as ``val_top1_accuracy_conv<k>``, and writes
``probe_table.{json,md,png}`` (this run next to the release's and the paper's ImageNet numbers).
"""
import collections
import os

from tensorpack.callbacks import EnableCallbackIf, InferenceRunner

from common import cli
from common.devices import setup_devices
from common.eval.report import write_report
from common.train import DatasetInput, launch_train
from counting.conv_restore import ConvWeightsInit, counting_checkpoint
from counting.data import counting_dataset, open_records, train_augment, val_augment
from counting.flags import experiment_dir, parse_flags, resolve_max_iters
from counting.optimizers import classifier_lr_schedule, release_schedule
from counting.probe_model import CountingProbeModel, accuracy_inferencers
from counting.report import reference_columns, results_from_stats


def _feature_source(args):
    """The session init of the frozen convs: the counting checkpoint (``--pretrained``) or none (random)."""
    if args.pretrained == args.random_features:
        raise ValueError("pass exactly one of --pretrained (conv1-5 from --cnt_exp_name) and --random_features "
                         "(randomly initialised frozen convs, the baseline)")
    if args.random_features:
        return None
    if not args.cnt_exp_name:
        raise ValueError("--pretrained needs --cnt_exp_name, the counting experiment to load")
    return ConvWeightsInit(counting_checkpoint(experiment_dir(args.ckpt_root, args.cnt_exp_name)))


def validation(record_dir, args, cfg, towers):
    """The every-``eval_every_epochs`` validation callback: one pass over the split through the project's
    ``DatasetInput`` on the first tower's device (DALI on a GPU decodes there, like the release's pipelines)."""
    device = "cpu" if towers.on_cpu else "gpu"
    augment = val_augment(cfg["image_size"], cfg["resize_size"])
    val = counting_dataset(record_dir, "validation", args.batch_size, augment, args.reader, train=False, device=device)
    runner = InferenceRunner(DatasetInput(val), accuracy_inferencers(), device=-1 if towers.on_cpu else towers[0])
    every, last = cfg["eval_every_epochs"], args.epoch
    return EnableCallbackIf(runner, lambda cb: cb.epoch_num % every == 0 or cb.epoch_num == last)


def run(args, cfg):
    """Train and validate the five linear heads; returns ``{layer: top-1 fraction}`` of the last validation."""
    session_init = _feature_source(args)
    towers = setup_devices(args)
    device = "cpu" if towers.on_cpu else "gpu"  # DALI: mixed JPEG decode and GPU augmentation on a GPU
    record_dir, meta = open_records(args.data_dir)
    steps = resolve_max_iters(args, meta["splits"]["train"], towers, from_data=True)
    logdir = args.logdir or experiment_dir(args.ckpt_root, args.exp_name)
    model = CountingProbeModel(cfg["image_size"], meta["num_classes"], cfg["pool_sizes"], args.opt,
                               backbone=args.backbone, feature_bn=args.head_bn)
    augment = train_augment(cfg["image_size"], cfg["crop_scale"], cfg["color_jitter"], cfg["grayscale_prob"])
    train = counting_dataset(record_dir, "train", args.batch_size, augment, args.reader, device=device)
    schedule = release_schedule(classifier_lr_schedule(args.epoch, args.learning_rate, **cfg["cls_schedule"]),
                                args.learning_rate, args.learning_rate_var_name)
    launch_train(model, train, logdir, steps, args.epoch, towers, trainer=args.trainer, max_to_keep=2,
                 session_init=session_init, lr_schedule=schedule, callbacks=[validation(record_dir, args, cfg, towers)],
                 experiment={"phase": "classifier", "net": args.backbone, "image_size": cfg["image_size"],
                             "features": "random" if args.random_features else args.cnt_exp_name})
    results = results_from_stats(os.path.join(logdir, "stats.json"))
    columns = collections.OrderedDict([(args.exp_name, results)])
    columns.update(reference_columns())
    write_report(columns, logdir, "Linear probes on frozen counting conv features (top-1)", name="probe_table")
    return results


def main(argv=None):
    """Command-line entry point (``cli.run``: bad input is one ``error: ...`` line and exit status 2)."""
    args, cfg = parse_flags("classifier_trn", argv)
    results = run(args, cfg)
    print("top-1 per layer: " + ", ".join("%s %.3f" % kv for kv in results.items()))


if __name__ == "__main__":
    cli.run(main)
