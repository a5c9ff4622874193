"""The rows of ``python -m bench.gpu_check``: each paper's release command line at tiny step counts, the
training steps, the input readers, kNN and k-means, the model zoo's features, on one GPU (two logical towers) or, for the CPU dry run,
on two CPU towers at tiny sizes.

A row is a ``Row(name, commands, target, images_per_step)``: ``commands`` run one after the other in one
timed subprocess slot (an argument ``glob:PATTERN`` becomes the newest path matching PATTERN when the row
starts); ``target`` is the issue's figure for the row, shown and never asserted; ``images_per_step``
``(flag, factor)``: the images of one global step are ``factor`` x that flag's value in the first command
(turns TensorPack's steps/s into images/s; None or an absent flag: steps/s); ``after``: the name of the row
whose output this row needs (it runs after that one, also with ``--jobs``).

The papers' rows are plain data in ``<paper>/gpu_rows.py``, read through ``papers.gpu_rows()``:

- ``GPU_ROWS``: dicts ``{"name", "commands", "target", "images_per_step", "after" (optional)}``; a command is
  ``{"argv": [...], "tiny": {mode name: {flag: value}}}``, its release command line and, per mode, the flags
  that make it tiny (``override``). In ``argv`` the tokens ``{towers}`` / ``{one_tower}`` become the mode's
  device flags and ``{reader}`` ``--reader NAME``; ``{python}``, ``{dir}`` (the paper's directory),
  ``{records}``, ``{work}`` and ``{resnet}`` are filled in wherever they stand.
- ``STEP_ROWS``: dicts ``{"step", "model", "tiny" (optional)}``, one ``bench.step`` row each at the mode's sizes.
"""
import collections
import os
import sys

import papers

__all__ = ["Row", "Mode", "GPU", "CPU_DRY_RUN", "override", "images_of", "zoo_rows", "build_rows"]

Row = collections.namedtuple("Row", "name commands target images_per_step after", defaults=(None,))
# towers: device flags of the training scripts; step: bench.step sizes; resnet: model of the ResNet-50 rows (the
# CPU dry run too, at its tiny sizes, so that the bottleneck blocks and the layout and precision switches run).
Mode = collections.namedtuple("Mode", "name towers one_tower reader step resnet kmeans knn input_images")

RESNET_TARGETS = {("fp32", False): ">= 2450 img/s (TF32)", ("amp", False): "-", ("amp", True): ">= 4000 img/s"}

GPU = Mode(
    name="gpu", towers=["--gpu", "0,1", "--logical_gpus", "2"], one_tower=["--gpu", "0"], reader="dali",
    step=dict(batch=256, size=224, steps=20, warmup=5, bank=1281167), resnet="resnet50",
    kmeans=dict(bank=1281167, k=30000), knn=dict(bank=1281167, queries=50000), input_images=5000)

CPU_DRY_RUN = Mode(
    name="cpu-dry-run", towers=["--gpu", "", "--cpu_towers", "2"], one_tower=["--gpu", ""], reader="tfdata",
    step=dict(batch=2, size=64, steps=2, warmup=1, bank=1000), resnet="resnet50",
    kmeans=dict(bank=2000, k=20), knn=dict(bank=5000, queries=500), input_images=64)


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


def _expand(argv, mode, values):
    """``argv`` with its placeholder tokens filled in for ``mode`` (see the module docstring)."""
    lists = {"{towers}": mode.towers, "{one_tower}": mode.one_tower, "{reader}": ["--reader", mode.reader]}
    out = []
    for arg in argv:
        out += lists[arg] if arg in lists else [arg.format(**values)]
    return out


def _command(command, mode, values):
    return override(_expand(command["argv"], mode, values), command.get("tiny", {}).get(mode.name, {}))


def paper_rows(mode, records, work):
    """The release command lines (README.md) of every paper at tiny step counts, on two towers."""
    rows = []
    for paper, gpu_rows, _ in papers.gpu_rows():
        values = dict(python=sys.executable, dir=paper.directory, records=records, work=work, resnet=mode.resnet)
        for row in gpu_rows:
            rows.append(Row(row["name"], [_command(c, mode, values) for c in row["commands"]], row["target"],
                            tuple(row["images_per_step"]) if row["images_per_step"] else None, row.get("after")))
    return rows


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
    for _, _, step_rows_ in papers.gpu_rows():
        for row in step_rows_:
            model = row["model"].format(resnet=mode.resnet)
            flags = override([str(a) for a in sizes], row.get("tiny", {}).get(mode.name, {}))
            rows.append(Row("bench.step %s (%s)" % (row["step"], model),
                            [_probe("step", "--step", row["step"], "--model", model, *flags)], "-", None))
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


def images_of(records):
    """The JPEG folder the check's records were built from (``gpu_check.prepare_records``: ``images_<size>``
    beside ``records_<size>``)."""
    return os.path.join(os.path.dirname(records), os.path.basename(records).replace("records", "images", 1))


def zoo_rows(mode, records, work):
    """``python -m zoo``: a release-style Local Aggregation checkpoint (random weights, written by the tests'
    release writer) converted, then ``zoo features`` over the check's JPEGs (its printed images/s)."""
    depth, batch = (50, "128") if mode is GPU else (18, "16")
    folder = os.path.join(work, "zoo")
    return [Row("zoo convert + features (LA ResNet-%d, batch %s)" % (depth, batch), [
        [sys.executable, "-m", "tests.zoo_row_source", "--work", folder, "--depth", str(depth)],
        [sys.executable, "-m", "zoo", "convert", "la", "glob:" + os.path.join(folder, "source", "checkpoint-*.tar"),
         "--out", os.path.join(folder, "model")],
        [sys.executable, "-m", "zoo", "features", os.path.join(folder, "model"), images_of(records), "--out",
         os.path.join(folder, "features.npy"), "--batch", batch]], ">= 2000 img/s (ResNet-50)", None)]


def build_rows(mode, records, full_records, work):
    """Every row of the check, in the order of the table."""
    return (paper_rows(mode, records, work) + step_rows(mode) + measure_rows(mode, full_records)
            + zoo_rows(mode, full_records, work))
