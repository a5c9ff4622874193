"""Linear transfer of an LA checkpoint to ImageNet or Places205, the release's ``train_transfer.py``.

    python local_aggregation/train_transfer.py --config exp_configs/la_trans_final.json:trans_res18_LA \\
        --image_dir IMAGENET_TFRS --gpu 0 --cache_dir SAVE
    python local_aggregation/train_transfer.py --config exp_configs/la_plc_trans_final.json:plc_trans_res18_LA \\
        --image_dir PLACES205_TFRS --gpu 0 --cache_dir SAVE

The backbone comes from ``SAVE/models/<load_exp>/model-<load_step>`` (global step included), or from
``--load_checkpoint`` (the release's published checkpoint, raw or converted by ``python -m zoo convert la``);
heads, logs and
the per-layer report (``results.json``/``.md``/``.png``) go to ``SAVE/models/<save_exp>``. The run stops at
the config's ``train_num_steps`` (README decision 2); relaunching resumes.
"""
import functools

from common import cli, resume
from common.devices import setup_devices
from common.data.records import ensure_records, read_meta
from common.train import launch_train, per_tower_batch
from local_aggregation.augmentation import make_train_dataset, make_validation_dataset
from local_aggregation.checkpoints import PartialRestore, exp_dir, find_checkpoint
from local_aggregation.flags import parse_flags, parse_int_list
from local_aggregation.model import release_lr
from local_aggregation.release import project_checkpoint
from local_aggregation.step_plan import StopAtStep, plan_stage
from local_aggregation.transfer import TransferModel, TransferValidation


def run(args):
    """Train the heads described by the parsed flags ``args``; returns the transfer's log directory."""
    towers = setup_devices(args)
    per_tower = per_tower_batch(args.batch_size, towers, "--batch_size")
    record_dir = ensure_records(args.image_dir)
    found = int(read_meta(record_dir)["num_classes"])
    if found != args.num_classes:
        raise ValueError("num_classes %d differs from the %d classes of %s (Places205 runs need the Places205 "
                         "TFRecords, ImageNet runs the ImageNet ones)" % (args.num_classes, found, record_dir))
    layers = [k for k in (args.get_all_layers or "").split(",") if k.strip()]
    if not layers:
        raise ValueError("get_all_layers is empty: list the layers to read out, e.g. 1,3,5,7,9")
    logdir = exp_dir(args.cache_dir, args.save_exp)
    load_path = None
    if resume.latest_checkpoint(logdir) is None:
        if args.resume:
            raise ValueError("resume: save_exp %s has no checkpoint in %s" % (args.save_exp, logdir))
        if args.load_checkpoint:
            load_path = project_checkpoint(args.load_checkpoint, logdir, "--load_checkpoint")
        elif not args.load_exp:
            raise ValueError("load_exp (or --load_checkpoint) is required: the pretrained checkpoint")
        else:
            load_path = find_checkpoint(args.cache_dir, args.load_exp, args.load_step)
    save_every = args.fre_cache_filter or args.fre_filter
    max_epoch = plan_stage(logdir, load_path, args.train_num_steps, save_every)
    if max_epoch is None:
        return logdir
    model = TransferModel(args.model_type, layers, args.num_classes, args.image_size, args.width,
                          "NHWC" if towers.on_cpu else "NCHW", args.weight_decay, args.vgg_quirk, args.head_bn)
    schedule = release_lr(args.init_lr, parse_int_list(args.lr_boundaries, "lr_boundaries"))
    val_data = functools.partial(make_validation_dataset, record_dir, args.test_batch_size, args.image_size,
                                 args.ten_crop, args.reader)
    train_data = functools.partial(make_train_dataset, record_dir, per_tower, args.image_size, args.train_crop,
                                   args.reader)
    callbacks = [TransferValidation(model, val_data, args.ten_crop, args.fre_valid, logdir, args.train_num_steps,
                                    "LA linear transfer %s" % args.save_exp)]
    if args.train_num_steps is not None:
        callbacks.append(StopAtStep(args.train_num_steps))
    experiment = {k: getattr(args, k) for k in ("save_exp", "model_type", "get_all_layers", "num_classes", "width",
                                                 "image_size", "vgg_quirk", "head_bn")}
    launch_train(model, train_data, logdir, save_every, max_epoch, towers, trainer=args.trainer, lr_schedule=schedule,
                 callbacks=callbacks, session_init=PartialRestore(load_path) if load_path else None,
                 experiment=experiment)
    return logdir


def main(argv=None):
    """Parse the release's transfer flags and train; bad input ends with one ``error:`` line (exit status 2)."""
    args, cfg = parse_flags("train_transfer", argv)
    run(args)


if __name__ == "__main__":
    cli.run(main)
