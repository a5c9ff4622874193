"""The rows of ``python -m bench.gpu_check``: each paper's release command line at tiny step counts, the
training steps, the input readers, kNN and k-means, on one GPU (two logical towers) or, for the CPU dry run,
on two CPU towers at tiny sizes.

A row is a ``Row(name, commands, target, images_per_step)``: ``commands`` run one after the other in one
timed subprocess slot (an argument ``glob:PATTERN`` becomes the newest path matching PATTERN when the row
starts); ``target`` is the issue's figure for the row, shown and never asserted; ``images_per_step``
``(flag, factor)``: the images of one global step are ``factor`` x that flag's value in the first command
(turns TensorPack's steps/s into images/s; None or an absent flag: steps/s); ``after``: the name of the row
whose output this row needs (it runs after that one, also with ``--jobs``).
"""
import collections
import os
import sys

import papers

__all__ = ["Row", "Mode", "GPU", "CPU_DRY_RUN", "build_rows"]

Row = collections.namedtuple("Row", "name commands target images_per_step after", defaults=(None,))
# towers: device flags of the training scripts; step: bench.step sizes; resnet: model of the ResNet-50 rows;
# tiny: per-script overrides (flag -> value) on top of the release command line.
Mode = collections.namedtuple("Mode", "name towers one_tower reader step resnet kmeans knn input_images tiny")

COUNTING_1 = "counting phase 1 (counter_trn.py)"
ROTATION = "revisiting rotation (config/rotation/imagenet.sh)"
RESNET_TARGETS = {("fp32", False): ">= 2450 img/s (TF32)", ("amp", False): "-", ("amp", True): ">= 4000 img/s"}

GPU = Mode(
    name="gpu", towers=["--gpu", "0,1", "--logical_gpus", "2"], one_tower=["--gpu", "0"], reader="dali",
    step=dict(batch=256, size=224, steps=20, warmup=5, bank=1281167), resnet="resnet50",
    kmeans=dict(bank=1281167, k=30000), knn=dict(bank=1281167, queries=50000), input_images=5000,
    tiny={"counting": {"--max_iters": "10"}, "classifier": {"--max_iters": "10"},
          "instance_disc": {"--steps-per-epoch": "10"},
          "la": {"--data_len": "0", "--fre_valid": "10", "--fre_filter": "10", "--fre_cache_filter": "10",
                 "--instance_k": "256", "--kmeans_k": "100,100"},
          "revisiting": {"--epochs": "0.5", "--warmup_epochs": "0", "--decay_epochs": "0.3"},
          "revisiting_eval": {"--epochs": "1", "--decay_epochs": "0.5", "--num_classes": "10", "--batch_size": "128"},
          "classification": {"--steps_per_epoch": "10", "--set": "num_classes=10"},
          "classification_test": {"--limit": "64", "--set": "num_classes=10"}})

CPU_DRY_RUN = Mode(
    name="cpu-dry-run", towers=["--gpu", "", "--cpu_towers", "2"], one_tower=["--gpu", ""], reader="tfdata",
    step=dict(batch=2, size=64, steps=2, warmup=1, bank=1000), resnet="resnet18",
    kmeans=dict(bank=2000, k=20), knn=dict(bank=5000, queries=500), input_images=64,
    tiny={"counting": {"--config": "exp_configs/counting.json:toy", "--batch_size": "4", "--max_iters": "2",
                       "--epoch": "1"},
          "classifier": {"--config": "exp_configs/counting.json:toy", "--batch_size": "4", "--max_iters": "2",
                         "--epoch": "1"},
          "instance_disc": {"--config": "exp_configs/instance_disc.json:toy", "-b": "8", "--steps-per-epoch": "2",
                            "--nce-k": "64", "--epochs": "1"},
          "la": {"--config": None, "--batch_size": "8", "--test_batch_size": "20", "--fre_valid": "2",
                 "--fre_filter": "2", "--fre_cache_filter": "2", "--instance_k": "64", "--kmeans_k": "8,5",
                 "--data_len": "0"},
          "revisiting": {"--architecture": "revnet50", "--filters_factor": "1", "--warmup_epochs": "0",
                         "--resize_size": "32,32", "--batch_size": "8", "--epochs": "0.1", "--decay_epochs": "0.05",
                         "--serving_input_shape": "None,32,32,3", "--eval_batch_size": "4"},  # val: 7 images
          "revisiting_eval": {"--num_classes": "10", "--smaller_size": "36", "--crop_size": "32",
                              "--batch_size": "16", "--eval_batch_size": "20", "--epochs": "0.1",
                              "--decay_epochs": "0.05"},
          "classification": {"--config": "exp_configs/classification.json:toy", "--batch": "8",
                             "--steps_per_epoch": "2", "--epochs": "1"},
          "classification_test": {"--config": "exp_configs/classification.json:toy", "--limit": "8",
                                  "--batch": "4"}})


def override(argv, values):
    """``argv`` with each ``flag -> value`` of ``values`` replacing the flag's value (appended when absent);
    a value ``None`` keeps ``argv`` as it is for that flag."""
    out = list(argv)
    for flag, value in values.items():
        if value is None:
            continue
        if flag in out:
            out[out.index(flag) + 1] = value
        else:
            out += [flag, value]
    return out


def _py(script, *argv):
    return [sys.executable, script] + list(argv)


def _paper_dirs():
    return {p.name: p.directory for p in papers.PAPERS}


def paper_rows(mode, records, work):
    """The release command lines (README.md) of every paper at tiny step counts, on two towers."""
    d, t, reader = _paper_dirs(), mode.tiny, ["--reader", mode.reader]
    ckpt, la_cache = os.path.join(work, "counting"), os.path.join(work, "la")
    la_conf = "exp_configs/la_final.json:%s" if mode is GPU else "exp_configs/la_final.json:toy_%s"
    la_ir, la = (la_conf % ("res18_IR" if mode is GPU else "IR"), la_conf % ("res18_LA" if mode is GPU else "LA"))
    la_common = ["--image_dir", records] + mode.towers + ["--cache_dir", la_cache] + reader
    ir_steps, la_steps = (20, 40) if mode is GPU else (2, 4)
    rot_dir, cls_dir = os.path.join(work, "rotation"), os.path.join(work, "classification")
    counting = os.path.join(d["counting"], "%s")
    return [
        Row(COUNTING_1, [_py(counting % "counter_trn.py", *override(
            ["--batch_size", "256", "--exp_name", "cnt_check", "--net", "alexnet", "--learning_rate", "0.0001"]
            + mode.towers + ["--logits_dim", "1000", "--opt", "adam", "--epoch", "2", "--learning_rate_var_name",
                             "lr_cnt", "--data_dir", records, "--ckpt_root", ckpt] + reader, t["counting"]))],
            "-", ("--batch_size", 2)),
        Row("counting phase 2 (classifier_trn.py)", [_py(counting % "classifier_trn.py", *override(
            ["--exp_name", "cls_check", "--pretrained", "--cnt_exp_name", "cnt_check", "--batch_size", "256",
             "--learning_rate", "0.001", "--opt", "adam", "--epoch", "2", "--net", "alexnet",
             "--learning_rate_var_name", "lr_cls"] + mode.towers + ["--data_dir", records, "--ckpt_root", ckpt]
            + reader, t["classifier"]))], "-", ("--batch_size", 2), after=COUNTING_1),
        Row("instance_disc (main.py)", [_py(os.path.join(d["instance_disc"], "main.py"), records, *override(
            ["--arch", "resnet18", "--nce-k", "4096", "--nce-t", "0.07", "--nce-m", "0.5", "--low-dim", "128",
             "--lr", "0.03", "-b", "256", "--epochs", "2"] + mode.towers + reader
            + ["--logdir", os.path.join(work, "instance_disc")], t["instance_disc"]))], "-", ("-b", 1)),
        Row("local_aggregation IR then LA (train.py)", [
            _py(os.path.join(d["local_aggregation"], "train.py"), *override(
                ["--config", la_ir] + la_common, dict(t["la"], **{"--train_num_steps": str(ir_steps)}))),
            _py(os.path.join(d["local_aggregation"], "train.py"), *override(
                ["--config", la] + la_common, dict(t["la"], **{"--train_num_steps": str(la_steps),
                                                               "--load_step": str(ir_steps)})))],
            "-", ("--batch_size", 1)),
        Row(ROTATION, [
            _revisiting("rotation/imagenet.sh", ["--workdir", rot_dir, "--dataset_dir", records] + mode.towers,
                        t["revisiting"]),
            _revisiting("rotation/imagenet.sh", ["--workdir", rot_dir, "--dataset_dir", records, "--run_eval"],
                        t["revisiting"])], "-", None),
        Row("revisiting rotation linear eval (config/evaluation)", [_revisiting(
            "evaluation/rotation_or_exemplar.sh",
            ["--workdir", os.path.join(work, "rotation_eval"), "--dataset_dir", records, "--hub_module",
             "glob:" + os.path.join(rot_dir, "export", "hub", "*", "module")] + mode.towers,
            t["revisiting_eval"])], "-", None, after=ROTATION),
        Row("classification train + 10-crop test", [
            _classification_train(mode, mode.towers, records, cls_dir),
            _py(os.path.join(d["classification"], "test.py"), *override(
                ["--config", "exp_configs/classification.json:ilsvrc_resnet50_v2", "--checkpoint", cls_dir,
                 "--data", records], t["classification_test"]))], ">= 0.9x the one-tower row", ("--batch", 1)),
        Row("classification train, one tower (same global batch)", [
            _classification_train(mode, mode.one_tower, records, cls_dir + "_one_tower")], "-", ("--batch", 1)),
    ]


def _classification_train(mode, towers, records, logdir):
    return _py(os.path.join(_paper_dirs()["classification"], "train.py"), *override(
        ["--config", "exp_configs/classification.json:ilsvrc_resnet50_v2"] + towers
        + ["--data", records, "--logdir", logdir, "--epochs", "2", "--reader", mode.reader],
        mode.tiny["classification"]))


def _revisiting(launcher, argv, tiny):
    script = os.path.join(_paper_dirs()["revisiting"], "config", launcher)
    return ["sh", script] + override(argv, tiny)


def _probe(kind, *argv):
    return [sys.executable, "-m", "bench.gpu_probes", kind] + [str(a) for a in argv]


def step_rows(mode):
    """ResNet-50 in FP32 (TF32 on Ampere and later), AMP and XLA + AMP, NHWC and NCHW; each paper's step."""
    s = mode.step
    sizes = ["--batch", s["batch"], "--image-size", s["size"], "--steps", s["steps"], "--warmup", s["warmup"],
             "--bank-size", s["bank"]]
    rows = []
    for precision, xla in (("fp32", False), ("amp", False), ("amp", True)):
        for layout in ("NHWC", "NCHW"):
            flags = (["--amp"] if precision == "amp" else []) + (["--xla"] if xla else [])
            name = "bench.step %s %s%s %s" % (mode.resnet, "XLA + " if xla else "", precision.upper(), layout)
            rows.append(Row(name, [_probe("step", "--step", "classify", "--model", mode.resnet, "--data-format",
                                          layout, *(sizes + flags))], RESNET_TARGETS[precision, xla], None))
    paper_steps = (("counting", "alexnet_counting", ["--image-size", max(s["size"], 96)]),
                   ("instance_disc", mode.resnet, []), ("local_aggregation", "resnet18", []),
                   ("rotation", "revnet50", ["--batch", max(1, s["batch"] // 4)]))
    for step, model, extra in paper_steps:
        flags = override([str(a) for a in sizes], {k: str(v) for k, v in zip(extra[::2], extra[1::2])})
        rows.append(Row("bench.step %s (%s)" % (step, model),
                        [_probe("step", "--step", step, "--model", model, *flags)], "-", None))
    return rows


def measure_rows(mode, full_records):
    """DALI GPU input vs tf.data at 224 px from full-size JPEGs, kNN over the bank, one k-means run."""
    size = 224 if mode is GPU else 64
    batch = 256 if mode is GPU else 8
    readers = (("dali", "gpu" if mode is GPU else "cpu"), ("tfdata", "cpu"))
    rows = [Row("input %s (%s decode, train aug, %d px)" % (reader, device.upper(), size),
                [_probe("input", "--data", full_records, "--reader", reader, "--device", device, "--batch", batch,
                        "--size", size, "--images", mode.input_images)],
                ">= 8000 img/s" if reader == "dali" else "-", None) for reader, device in readers]
    k, q = mode.knn, mode.kmeans
    rows.append(Row("kNN %d queries vs %d x 128, k=200" % (k["queries"], k["bank"]),
                    [_probe("knn", "--bank", k["bank"], "--queries", k["queries"])], "< 5 s", None))
    rows.append(Row("k-means %d centroids on %d x 128" % (q["k"], q["bank"]),
                    [_probe("kmeans", "--bank", q["bank"], "--k", q["k"])], "< 6 s (x10 < 60 s)", None))
    return rows


def build_rows(mode, records, full_records, work):
    """Every row of the check, in the order of the table."""
    return paper_rows(mode, records, work) + step_rows(mode) + measure_rows(mode, full_records)
