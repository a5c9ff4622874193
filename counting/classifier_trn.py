"""Phase 2 of the counting release: linear classifiers on the frozen conv1..conv5 of a counting experiment.

    python counting/classifier_trn.py --exp_name cls_gpu2_bz256_adam_250 --pretrained \
        --cnt_exp_name cnt_gpu4_bz256_adam_250 --batch_size 256 --learning_rate 0.001 --opt adam --epoch 250 \
        --net alexnet --learning_rate_var_nam lr_cls --gpu 0,1
    python counting/classifier_trn.py --exp_name cls_random --random_features ...   (random frozen features, D3)

Validates every ``eval_every_epochs`` (2) and after the last epoch on the whole validation split, logs
``val_top1_accuracy_conv<k>`` (D4), and writes ``probe_table.{json,md,png}`` (this run next to the
release's and the paper's ImageNet numbers) into the experiment directory.
"""
import collections
import os
import sys

from tensorpack import TFDatasetInput
from tensorpack.callbacks import EnableCallbackIf, InferenceRunner, ScheduledHyperParamSetter

from common.config import ConfigError
from common.eval.report import write_report
from common.train import launch_train
from counting.conv_restore import ConvWeightsInit, counting_checkpoint
from counting.data import counting_dataset, open_records
from counting.flags import experiment_dir, parse_flags, resolve_max_iters, setup_release_devices
from counting.lr_schedules import classifier_lr_schedule
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


def run(args, cfg):
    """Train and validate the five linear heads; returns ``{layer: top-1 fraction}`` of the last validation."""
    session_init = _feature_source(args)
    towers = setup_release_devices(args)
    device = "cpu" if towers.on_cpu else "gpu"  # DALI: mixed JPEG decode and GPU augmentation on a GPU
    record_dir, meta = open_records(args.data_dir)
    steps = resolve_max_iters(args, meta["splits"]["train"])
    logdir = args.logdir or experiment_dir(args.ckpt_root, args.exp_name, create=True)
    model = CountingProbeModel(cfg["image_size"], meta["num_classes"], cfg["pool_sizes"], args.opt,
                             args.learning_rate, args.learning_rate_var_name, backbone=args.backbone,
                             feature_bn=args.head_bn)
    train = counting_dataset(record_dir, "train", args.batch_size, cfg, args.reader, device=device)
    val = TFDatasetInput(counting_dataset(record_dir, "validation", args.batch_size, cfg, args.reader, train=False,
                                           device=device))
    every, last = cfg["eval_every_epochs"], args.epoch
    evaluator = EnableCallbackIf(InferenceRunner(val, accuracy_inferencers()),
                                 lambda cb: cb.epoch_num % every == 0 or cb.epoch_num == last)
    schedule = classifier_lr_schedule(args.epoch, args.learning_rate, **cfg["cls_schedule"])
    launch_train(model, train, logdir, steps, args.epoch, towers, trainer=args.trainer, max_to_keep=2,
                 session_init=session_init,
                 callbacks=[ScheduledHyperParamSetter(args.learning_rate_var_name, schedule), evaluator],
                 experiment={"phase": "classifier", "net": args.backbone, "image_size": cfg["image_size"],
                             "features": "random" if args.random_features else args.cnt_exp_name})
    results = results_from_stats(os.path.join(logdir, "stats.json"))
    columns = collections.OrderedDict([(args.exp_name, results)])
    columns.update(reference_columns())
    write_report(columns, logdir, "Linear probes on frozen counting conv features (top-1)", name="probe_table")
    return results


def main(argv=None):
    """Command-line entry point; bad input exits with one ``error: ...`` line and status 2."""
    args, cfg = parse_flags("classifier", argv, __doc__.splitlines()[0])
    try:
        results = run(args, cfg)
    except (ValueError, ConfigError) as e:
        sys.stderr.write("error: %s\n" % e)
        sys.exit(2)
    print("top-1 per layer: " + ", ".join("%s %.3f" % kv for kv in results.items()))


if __name__ == "__main__":
    main()
