"""Training-step benchmark on synthetic input: images/s per configuration (fp32 / AMP / XLA), warm-up excluded.

    python -m bench.step --model resnet50 --batch 64 --steps 30 [--warmup 5] [--amp] [--xla] [--all]
        [--gpu 0] [--image-size 224] [--num-classes 1000] [--step classify] [--data-format auto]

``--amp``: TF1 mixed-precision graph rewrite (float16 compute, float32 variables, dynamic loss scaling);
``--xla``: XLA jit scope around the step plus global jit in the session config; ``--all``: the four
combinations. The images and labels are random non-trainable variables, so the input costs nothing.
Each paper states its steps as data, ``STEPS = {name: build_fn}`` in its bench-step module, read through the
paper registry (``papers.bench_steps()``); ``register_step(name, build_fn)`` adds one more (tests, ad-hoc
steps). ``build_fn(images, labels, args) -> scalar loss`` builds one training tower from float32 NHWC ``images`` [batch, size, size, 3], int64 ``labels`` [batch] and the parsed flags
``args`` (``model``, ``batch``, ``image_size``, ``num_classes``, ``data_format``, ``bank_size``). Then
``--step NAME`` times it; ``classify`` (supervised softmax, classification/bench_step.py) is the default.
"""
import argparse
import contextlib
import logging
import sys
import time

import papers
from common.tf1 import tf
from common.models import get_model
from common import cli
from common.devices import setup_devices
from common.eval.report import markdown_row, markdown_table

__all__ = ["IMAGENET_TRAIN", "register_step", "list_steps", "time_step", "parse_args", "main"]

IMAGENET_TRAIN = 1281167  # default --bank-size: one memory-bank row per ImageNet training image
_STEPS = {}


def register_step(name, build_fn):
    """Register ``build_fn(images, labels, args) -> loss`` as the training step ``name``; returns build_fn."""
    if name in _STEPS and _STEPS[name] is not build_fn:
        raise ValueError("bench step %r is registered twice" % name)
    _STEPS[name] = build_fn
    return build_fn


def _load_paper_steps():
    for name, build_fn in papers.bench_steps().items():
        register_step(name, build_fn)


def list_steps():
    """Names of all steps: every registered paper's ``STEPS`` and those added with ``register_step``."""
    _load_paper_steps()
    return sorted(_STEPS)


def _session_config(xla):
    config = tf.ConfigProto(allow_soft_placement=True)
    config.gpu_options.allow_growth = True
    if xla:
        config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
    return config


def time_step(args, amp, xla):
    """Build ``args.step`` on synthetic input, run ``args.warmup`` untimed steps, return timed seconds/step."""
    if args.step not in _STEPS:
        _load_paper_steps()
    build_fn = _STEPS[args.step]
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        shape = [args.batch, args.image_size, args.image_size, 3]
        images = tf.get_variable("synthetic/images", initializer=tf.random_uniform(shape, -1.0, 1.0),
                                 trainable=False)
        labels = tf.get_variable("synthetic/labels", trainable=False, initializer=tf.random_uniform(
            [args.batch], 0, args.num_classes, dtype=tf.int64))
        with (tf.xla.experimental.jit_scope() if xla else contextlib.nullcontext()):
            loss = build_fn(images, labels, args)
        opt = tf.train.MomentumOptimizer(0.1, 0.9)
        if amp:
            opt = tf.train.experimental.enable_mixed_precision_graph_rewrite(opt)
        try:
            with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
                train_op = opt.minimize(loss, global_step=tf.train.get_or_create_global_step())
            with tf.Session(config=_session_config(xla)) as sess:
                sess.run(tf.global_variables_initializer())
                for _ in range(args.warmup):
                    sess.run(train_op)
                start = time.perf_counter()
                for _ in range(args.steps):
                    sess.run(train_op)
                return (time.perf_counter() - start) / args.steps
        finally:
            if amp:
                tf.train.experimental.disable_mixed_precision_graph_rewrite()


def _note(amp, xla, on_gpu):
    if on_gpu:
        return ""
    notes = []
    if amp:
        notes.append("AMP rewrite is GPU-only: ran float32")
    if xla:
        notes.append("XLA jit on CPU")
    return "; ".join(notes)


HEADER = ["model", "step", "device", "batch", "size", "precision", "xla", "img/s", "ms/step", "note"]


def parse_args(argv=None):
    """Flags of ``python -m bench.step``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="resnet50", help="backbone name from common.models")
    p.add_argument("--step", default="classify", help="registered training step (see register_step)")
    p.add_argument("--batch", type=int, default=64, help="images per step")
    p.add_argument("--steps", type=int, default=30, help="timed steps")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (graph optimisation, autotune)")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--data-format", default="auto", choices=["auto", "NHWC", "NCHW"],
                   help="auto: NCHW on a GPU, NHWC on the CPU")
    p.add_argument("--amp", action="store_true", help="mixed precision (TF1 graph rewrite)")
    p.add_argument("--xla", action="store_true", help="XLA compilation")
    p.add_argument("--all", action="store_true", help="time fp32, AMP, XLA and AMP+XLA")
    p.add_argument("--bank-size", type=int, default=IMAGENET_TRAIN,
                   help="memory-bank rows of the steps that keep one (instance_disc, local_aggregation)")
    p.add_argument("--gpu", default="", help="one GPU id (empty: the CPU)")
    return p.parse_args(argv)


@contextlib.contextmanager
def _tensorpack_warnings_only():
    """TensorPack's INFO lines off while timing (stdout keeps the table); the caller's level back afterwards."""
    log = logging.getLogger("tensorpack")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


def _check(args):
    """The one device of the run; ValueError (one line) for a bad flag."""
    for flag in ("batch", "steps", "image_size", "num_classes", "bank_size"):
        if getattr(args, flag) <= 0:
            raise ValueError("--%s %d: must be positive" % (flag.replace("_", "-"), getattr(args, flag)))
    if args.warmup < 0:
        raise ValueError("--warmup %d: must be >= 0" % args.warmup)
    towers = setup_devices(args.gpu)
    if len(towers) != 1:
        raise ValueError("--gpu %s: bench.step times one device, give one id" % args.gpu)
    try:
        get_model(args.model)
    except ValueError as e:
        raise ValueError("--model %s: %s" % (args.model, e))
    if args.step not in list_steps():
        raise ValueError("--step %s: unknown step; registered: %s" % (args.step, ", ".join(list_steps())))
    return towers


def main(argv=None):
    """Time the requested configurations and print one table row per configuration."""
    args = parse_args(argv)
    checked = []
    if cli.exit_status(lambda: checked.append(_check(args))):
        return 2
    on_gpu = not checked[0].on_cpu
    if args.data_format == "auto":
        args.data_format = "NCHW" if on_gpu else "NHWC"
    configs = [(a, x) for x in (False, True) for a in (False, True)] if args.all else [(args.amp, args.xla)]
    rows = []
    for amp, xla in configs:
        with _tensorpack_warnings_only():
            seconds = time_step(args, amp, xla)
        rows.append([args.model, args.step, "GPU %s" % args.gpu if on_gpu else "CPU", args.batch, args.image_size,
                     "amp" if amp else "fp32", "on" if xla else "off", "%.1f" % (args.batch / seconds),
                     "%.2f" % (1000 * seconds), _note(amp, xla, on_gpu)])
        print(markdown_row(rows[-1]), file=sys.stderr, flush=True)
    print(markdown_table(HEADER, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
