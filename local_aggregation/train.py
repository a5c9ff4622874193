"""Instance Recognition / Local Aggregation pretraining, the release's ``train.py``.

    python local_aggregation/train.py --config exp_configs/la_final.json:res18_IR --image_dir TFRS --gpu 0 \\
        --cache_dir SAVE
    python local_aggregation/train.py --config exp_configs/la_final.json:res18_LA --image_dir TFRS --gpu 0 \\
        --cache_dir SAVE

``--gpu 0,1,2,3`` trains synchronous towers (one shared bank, updated once per step with the global
batch); without ``--gpu`` every visible GPU is used, the CPU when there is none (``--cpu_towers N``: N CPU towers). Checkpoints go to
``SAVE/models/<db_name>/<col_name>/<exp_id>/model-<step>``; relaunching the command resumes there.
"""
import functools

from common import cli, resume
from common.devices import setup_devices
from common.data.records import ensure_records, read_meta
from common.train import launch_train, per_tower_batch
from local_aggregation.augmentation import make_train_dataset, make_validation_dataset
from local_aggregation.checkpoints import PartialRestore, exp_dir, find_checkpoint
from local_aggregation.clustering import Recluster, parse_kmeans_k
from local_aggregation.flags import parse_flags, parse_int_list
from local_aggregation.knn_monitor import knn_monitor
from local_aggregation.model import LocalAggregationModel, release_lr
from local_aggregation.step_plan import StopAtStep, plan_stage


def dataset_length(record_dir, data_len):
    """Training images in ``record_dir``; ``data_len`` must match it (0 takes it from meta.json)."""
    found = int(read_meta(record_dir)["splits"]["train"])
    if data_len and data_len != found:
        raise ValueError("data_len %d differs from the %d training images of %s (the memory bank needs one row "
                         "per image; pass --data_len %d)" % (data_len, found, record_dir, found))
    return found


def run(args):
    """Build and train the IR or LA model described by the parsed flags ``args``."""
    towers = setup_devices(args)
    if args.task not in ("IR", "LA"):
        raise ValueError("task %r: expected IR or LA" % args.task)
    per_tower = per_tower_batch(args.batch_size, towers, "--batch_size")
    record_dir = ensure_records(args.image_dir)
    data_len = dataset_length(record_dir, args.data_len)
    epoch_steps = data_len // args.batch_size
    if epoch_steps < 1:
        raise ValueError("batch_size %d is larger than the %d training images" % (args.batch_size, data_len))
    ks = parse_kmeans_k(args.kmeans_k, data_len) if args.task == "LA" else []
    logdir = exp_dir(args.cache_dir, "%s/%s/%s" % (args.db_name, args.col_name, args.exp_id))
    load_path = None
    if args.load_exp and resume.latest_checkpoint(logdir) is None:
        load_path = find_checkpoint(args.cache_dir, args.load_exp, args.load_step)
    save_every = args.fre_cache_filter or args.fre_filter
    max_epoch = plan_stage(logdir, load_path, args.train_num_steps, save_every)
    if max_epoch is None:
        return logdir
    boundaries = parse_int_list(args.lr_boundaries, "lr_boundaries")
    model = LocalAggregationModel(args.task, args.model_type, args.image_size, data_len, args.instance_k,
                                  args.instance_t, max(len(ks), 1), args.weight_decay, args.width, "NHWC" if towers.on_cpu else "NCHW", args.bn_momentum)
    num_classes = int(read_meta(record_dir)["num_classes"])
    val_data = functools.partial(make_validation_dataset, record_dir, args.test_batch_size, args.image_size,
                                 reader=args.reader)
    train_data = functools.partial(make_train_dataset, record_dir, per_tower, args.image_size, reader=args.reader)
    callbacks = [knn_monitor(model, val_data, num_classes, args.fre_valid, args.train_num_steps, args.knn_k,
                             args.instance_t)]
    if args.task == "LA":
        callbacks.insert(0, Recluster(model, ks, epoch_steps, args.train_num_steps))
    if args.train_num_steps is not None:
        callbacks.append(StopAtStep(args.train_num_steps))
    experiment = {k: getattr(args, k) for k in ("exp_id", "task", "model_type", "kmeans_k", "instance_k", "width",
                                                 "image_size", "bn_momentum")}
    experiment["data_len"] = data_len
    launch_train(model, train_data, logdir, save_every, max_epoch,
                 towers, trainer=args.trainer, lr_schedule=release_lr(args.init_lr, boundaries), callbacks=callbacks,
                 session_init=PartialRestore(load_path) if load_path else None,
                 experiment=experiment)
    return logdir


def main(argv=None):
    """Parse the release's flags and train; bad input ends with one ``error:`` line (exit status 2)."""
    args, cfg = parse_flags("train", argv)
    run(args)


if __name__ == "__main__":
    cli.run(main)
