"""Train a supervised classifier (AlexNet, ZFNet-BN, ResNet v1/v2, SE-ResNet) on TFRecords, on 1..n devices.

    python classification/train.py --config exp_configs/classification.json:KEY [--gpu 0,1,2,3] [--data TFRS]
        [--batch TOTAL] [--epochs N] [--logdir DIR] [--set NAME=VALUE ...]

Settings: an explicit flag > ``--set NAME=VALUE`` > the config's value; a config key the scripts do not know is an
error (classification/flags.py). No ``--gpu``: every visible GPU; ``--gpu ''``: the CPU. One device: TensorPack's
SimpleTrainer; several: SyncMultiGPUTrainerReplicated (``--trainer ps``: parameter server); validation top-1/top-5 error every epoch (data-parallel over the towers), checkpoints every epoch plus
the best one (``min-val-error-top1``), auto-resume from ``--logdir``, TensorBoard, ``stats.json``.
``--data`` is a record dir or an ImageNet-style image folder (built into records once).
"""
import os

from tensorpack.callbacks import (Callback, ClassificationError, DataParallelInferenceRunner, GPUUtilizationTracker,
                                  InferenceRunner, MinSaver)

from classification.augment import seed_preprocess, train_augment
from classification.eval_data import validation_flow
from classification.flags import parse_flags
from classification.model import ClassifierModel
from classification.predictor import run_info, write_run_info
from classification.recipe import EvalView, SeedAugment
from classification.schedule import SeedLearningRate, seed_schedule_args, step_schedule
from common import cli
from common.data.input import make_dataset
from common.data.records import ensure_records, read_meta
from common.devices import setup_devices
from common.distributed import cluster_from_args
from common.resume import check_experiment
from common.tf1 import tf
from common.train import launch_train, per_tower_batch

LRN_MODELS = ("alexnet",)


def resolve_data_format(choice, cfg, on_cpu):
    """``NCHW`` on GPUs (cuDNN's fast layout), ``NHWC`` on the CPU and for LRN AlexNet, unless chosen."""
    if choice != "auto":
        return choice
    return "NHWC" if on_cpu or cfg["model"] in LRN_MODELS else "NCHW"


def check_data(cfg, meta, record_dir):
    """The records must have the config's number of classes."""
    if meta["num_classes"] != cfg["num_classes"]:
        raise ValueError("--data %s has %d classes but the config expects num_classes=%d"
                         % (record_dir, meta["num_classes"], cfg["num_classes"]))


def validation_callbacks(record_dir, cfg, batch, towers):
    """Top-1/top-5 validation error every epoch: one inference tower, or one per training tower."""
    infs = [ClassificationError("wrong-top1", "val-error-top1"), ClassificationError("wrong-top5", "val-error-top5")]
    flow = validation_flow(record_dir, EvalView.from_config(cfg), batch, threads=cfg.get("workers", 2))
    if len(towers) > 1:
        return [DataParallelInferenceRunner(flow, infs, list(towers))]
    return [InferenceRunner(flow, infs)]


def experiment(cfg, total_batch):
    """What identifies a run for auto-resume: the config and total batch (more ``epochs`` may be added later, the
    records may move)."""
    return {"config": {k: v for k, v in cfg.items() if k not in ("epochs", "data")}, "total_batch": total_batch}


def train_dataset(cfg, record_dir, batch, device="cpu", num_shards=1, shard_index=0):
    """Endless ``(image, label, index)`` training batches of one tower with the config's augmentation and reader."""
    if cfg["augment"] != "seed":
        augment = train_augment(cfg["augment"], EvalView.from_config(cfg), cfg.get("crop_scale"))
        return make_dataset(record_dir, "train", batch, augment, reader=cfg["reader"], device=device,
                            num_shards=num_shards, shard_index=shard_index)
    values = SeedAugment.from_config(cfg)
    if cfg["reader"] == "dali":
        from classification.seed_dali import seed_dali_dataset
        return seed_dali_dataset(record_dir, values, batch, num_shards, shard_index, device=device)
    ds = make_dataset(record_dir, "train", batch, None, num_shards=num_shards, shard_index=shard_index,
                      preprocess=seed_preprocess(values))
    return ds.map(lambda d: (d["image"], d["label"], d["index"]))


class WarmupSaver(Callback):
    """Saves the weights after the last warm-up epoch apart, as ``<logdir>/warmup/model-<step>`` (the release keeps
    its warm-up weights; the per-epoch checkpoints of the log directory rotate)."""

    def __init__(self, logdir, warmup_epochs):
        self.path = os.path.join(logdir, "warmup", "model")
        self.warmup_epochs = warmup_epochs

    def _setup_graph(self):
        self.saver = tf.train.Saver(max_to_keep=1)

    def _trigger_epoch(self):
        if self.epoch_num == self.warmup_epochs:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.saver.save(self.trainer.sess, self.path, global_step=self.global_step, write_meta_graph=False)


def epoch_steps(cfg, train_images, total_batch):
    """Steps per epoch: ``train_images // total_batch``, plus one in the release's recipe (its train.py)."""
    return train_images // total_batch + (1 if cfg["lr_schedule"] == "cosine" else 0)


def schedule(cfg, total_batch, steps):
    """``(epochs in all, schedule object)``: the release's ``warmup_epochs`` + ``epochs`` with the per-step
    warm-up + cosine rate, or TensorPack's ``epochs`` with step decay (+ linear warm-up)."""
    if cfg["lr_schedule"] == "cosine":
        return cfg["warmup_epochs"] + cfg["epochs"], SeedLearningRate(steps, **seed_schedule_args(cfg))
    return cfg["epochs"], step_schedule(cfg, total_batch)


def train(cfg, record_dir, logdir, towers, total_batch, trainer="replicated", cluster=None, data_format="NHWC",
          steps_per_epoch=None):
    """Train ``cfg`` (a ``resolve_recipe``d config) on ``record_dir`` into ``logdir`` (resuming there)."""
    meta = read_meta(record_dir)
    check_data(cfg, meta, record_dir)
    batch = per_tower_batch(total_batch, towers)
    workers = cluster.num_workers if cluster is not None else 1
    if total_batch * workers > meta["splits"]["train"]:
        raise ValueError("--batch %d: larger than the %d training images" % (total_batch, meta["splits"]["train"]))
    steps = steps_per_epoch or epoch_steps(cfg, meta["splits"]["train"], total_batch * workers)
    epochs, rate = schedule(cfg, total_batch, steps)
    shard = dict(num_shards=workers, shard_index=cluster.task_index) if cluster is not None else {}
    decode = "gpu" if cfg["reader"] == "dali" and not towers.on_cpu else "cpu"  # DALI: nvJPEG mixed decode

    def dataset():
        return train_dataset(cfg, record_dir, batch, decode, **shard)

    callbacks = validation_callbacks(record_dir, cfg, cfg["val_batch"], towers)
    if cfg["lr_schedule"] == "cosine":
        callbacks.append(WarmupSaver(logdir, cfg["warmup_epochs"]))
    callbacks.append(MinSaver("val-error-top1", checkpoint_dir=logdir))
    if not towers.on_cpu:
        callbacks.append(GPUUtilizationTracker())
    run = experiment(cfg, total_batch)
    check_experiment(logdir, run)  # another experiment's directory: refused before classifier.json is written
    if cluster is None or cluster.is_chief:
        write_run_info(logdir, run_info(cfg, meta["class_names"]))
    launch_train(ClassifierModel(cfg, data_format), dataset, logdir, steps, epochs, towers, trainer=trainer,
                 lr_schedule=rate, callbacks=callbacks, cluster=cluster, experiment=run)
    return logdir


def main(argv=None):
    """Entry point (``cli.run(main)``: bad input is one ``error:`` line and exit status 2)."""
    args, cfg = parse_flags("train", argv)
    towers = setup_devices(args)
    record_dir = ensure_records(cfg["data"])
    logdir = args.logdir or os.path.join("train_log", "classification-" + args.config.rsplit(":", 1)[1])
    fmt = resolve_data_format(args.data_format, cfg, towers.on_cpu)
    train(cfg, record_dir, logdir, towers, cfg["batch"], args.trainer, cluster_from_args(args), fmt,
          args.steps_per_epoch)
    return 0


if __name__ == "__main__":
    cli.run(main)
