"""Linear classifiers on frozen instance-discrimination features, one per ResNet endpoint (common/eval/linear.py).

    python instance_disc/linear_eval.py DATA --resume CKPT --arch resnet50 --layers conv5,pre_logits \
        --steps 100000 --linear-lr 0.1 --decay-steps 60000,80000 --out-dir linear_results

Endpoints wider than 9000 values are max-pooled down to at most 9000 (revisiting's rule); ``embedding`` is the
128-d L2-normalised output. Train views: random resized crop (area 0.08-1) + flip; test: centre crop.
"""
from common import cli
from common.data.augment import AugmentConfig
from common.data.input import make_dataset
from common.data.records import ensure_records, read_meta
from common.eval.linear import run_linear_eval
from common.schedules import piecewise_lr
from common.eval.pooling import adaptive_pool_to_features
from common.eval.probe import LayerProbeModel
from common.resume import checkpoint_prefix
from common.tf1 import tf
from instance_disc.inputs import test_augment
from instance_disc.flags import parse_flags
from instance_disc.model import backbone_endpoints, embedding_head
from instance_disc.runner import one_line_errors

__all__ = ["probe_model", "linear_eval", "run", "main"]

EMBEDDING = "embedding"


def probe_model(cfg, layers, num_classes, lr):
    """``LayerProbeModel`` over the frozen backbone of ``cfg`` (inference-mode BN) for ``layers``."""
    def backbone(image):
        endpoints = dict(backbone_endpoints(image, False, cfg))
        if EMBEDDING in layers:
            endpoints[EMBEDDING] = embedding_head(endpoints["pre_logits"], cfg)
        return endpoints
    poolers = {name: (None if name in (EMBEDDING, "pre_logits") else adaptive_pool_to_features) for name in layers}
    size = cfg["image_size"]
    return LayerProbeModel(backbone, poolers, num_classes, image_shape=(size, size, 3), lr=lr)


def linear_eval(cfg, record_dir, checkpoint, layers, steps, lr, decay_steps=(), batch_size=None, out_dir=None):
    """Train the heads for ``steps`` steps and return ``{layer: {"top1", "top5"}}`` on the validation split."""
    meta = read_meta(record_dir)
    model = probe_model(cfg, layers, int(meta["num_classes"]), lr)
    batch = batch_size or cfg["batch_size"]
    train_aug = AugmentConfig(size=cfg["image_size"], crop="random_resized", scale=(0.08, 1.0), flip=True)

    def restore(sess):
        names = dict(tf.train.list_variables(checkpoint))
        backbone = [v for v in tf.global_variables() if v.op.name in names and not v.op.name.startswith("linear/")
                    and v.op.name not in ("learning_rate", "global_step")]
        tf.train.Saver(backbone).restore(sess, checkpoint)
    return run_linear_eval(model, lambda: make_dataset(record_dir, "train", batch, train_aug, reader=cfg["reader"]),
                           lambda: make_dataset(record_dir, "validation", cfg["val_batch_size"], test_augment(cfg["image_size"], cfg["resize_size"]),
                                                shuffle=False, repeat=False, drop_remainder=False),
                           steps, lr_schedule=piecewise_lr(lr, decay_steps), init_fn=restore, out_dir=out_dir,
                           title="instance discrimination, linear probes (%s)" % cfg["arch"])


def run(args, cfg):
    """``{layer: {"top1", "top5"}}`` of the probes on the command line's checkpoint and layers."""
    checkpoint = checkpoint_prefix(args.resume, "--resume")  # a training log dir or a `zoo convert` directory
    decay = [int(s) for s in args.decay_steps.split(",") if s.strip()]
    return linear_eval(cfg, ensure_records(args.data), checkpoint, args.layers.split(","), args.steps, args.linear_lr,
                       decay, args.linear_batch_size, args.out_dir)


def main(argv=None):
    """Train and evaluate the probes as ``argv`` says, print top-1 per layer. Bad input raises a one-line
    ``ValueError``."""
    args, cfg = parse_flags("linear_eval", argv)
    for layer, res in one_line_errors(run, args, cfg).items():
        print("%s: top-1 %.2f%%  top-5 %.2f%%" % (layer, 100 * res["top1"], 100 * res["top5"]))


if __name__ == "__main__":
    cli.run(main)
