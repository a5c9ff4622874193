"""Test classifiers on a record split with a single centre crop and with 10 crops; several checkpoints are
averaged (their softmax scores, the release's "Average" row).

    python classification/test.py --config exp_configs/classification.json:KEY --checkpoint CKPT \
        [--checkpoint CKPT2 ...] [--data TFRS] [--batch 32] [--limit N] [--seam-carve] [--out results.json]
    python classification/test.py --config exp_configs/classification.json:ilsvrc_resnet50_v2 \
        --checkpoint ocd-ResNetV2-50.h5 --classes sorted --data RECORDS

A ``.h5`` checkpoint is the release's Keras weights file, converted on the fly (``classification/release.py``); its
output order is an explicit input, ``--classes FILE`` (one class id a line, in the model's output order) or
``--classes sorted`` (the records' class ids sorted), and the records' labels are mapped into it by class id.

Each image: shorter side to ``resize_shorter``, then the centre ``image_size`` crop (1-crop) or the four corners,
the centre and their mirrors (10-crop, softmax averaged); ``--seam-carve`` adds the release's 11th view, the
seam-carved mirrored image ("11-view"). Model averaging takes the mean of the models' per-image mean softmax.
Prints top-1/top-5 error like the release's table.
"""
import json
import os
import tempfile

import numpy as np
import tqdm

from classification import release
from classification.class_order import labels_to_outputs, read_class_order
from classification.eval_data import RecordImages, eval_view_fn, view_workers
from classification.predictor import Classifier, resolve_checkpoint, run_info
from classification.flags import parse_flags
from classification.recipe import EvalView
from classification.scores import average_probabilities, topk_wrong
from common.eval.report import markdown_table
from common import cli
from common.devices import setup_devices
from common.data.records import ensure_records, read_meta

CENTER = 4  # index of the centre crop among the 10 (see crops.ten_crop)
PROTOCOLS = ("1-crop", "10-crop", "11-view")


def _chunks(flow, size):
    chunk = []
    for dp in flow:
        chunk.append(dp)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _count_wrong(totals, key, scores, labels):
    for k in (1, 5):
        totals.setdefault(key, {}).setdefault("top%d" % k, 0)
        totals[key]["top%d" % k] += int(topk_wrong(scores, labels, k).sum())


def _protocols(probs):
    """``{protocol: [N, C] scores}`` from per-view softmax ``[N, views, C]`` (views 10 or 11)."""
    out = {"1-crop": probs[:, CENTER], "10-crop": probs[:, :10].mean(axis=1)}
    if probs.shape[1] == 11:
        out["11-view"] = probs.mean(axis=1)
    return out


def evaluate(cfg, record_dir, checkpoints, batch=32, limit=None, threads=2, seam_carve=False, classes=None):
    """``{"models": [{"checkpoint", "1-crop": {"top1", "top5"}, "10-crop": {...}[, "11-view": {...}]}],
    "average": {...} or None, "images": N}`` with top-k error fractions, over the validation split of
    ``record_dir`` (``seam_carve``: the 11-view protocol too).

    A checkpoint None is the untrained (randomly initialised) model. ``classes``: the models' output order
    (``class_order.read_class_order``); the records' labels are mapped into it by class id."""
    meta = read_meta(record_dir)
    label_map = None
    if classes is not None:
        label_map = labels_to_outputs(read_class_order(classes, meta["class_names"]), meta["class_names"],
                                      cfg["num_classes"], "--classes %s" % classes)
    elif meta["num_classes"] != cfg["num_classes"]:
        raise ValueError("--data %s has %d classes but the config expects num_classes=%d"
                         % (record_dir, meta["num_classes"], cfg["num_classes"]))
    info = run_info(cfg, meta["class_names"])
    models = [Classifier(info, ckpt) for ckpt in checkpoints]
    views = eval_view_fn(EvalView.from_config(cfg), 10, seam_carve)
    n_views = 11 if seam_carve else 10
    protocols = PROTOCOLS if seam_carve else PROTOCOLS[:2]
    flow = RecordImages(record_dir, "validation", limit)
    wrong = [{} for _ in models] + [{}]
    with view_workers(threads, seam_carve) as pool, tqdm.tqdm(total=len(flow)) as bar:
        for chunk in _chunks(flow, batch):
            done = list(pool.map(views, chunk))
            crops = np.concatenate([d[0] for d in done])
            labels = np.array([d[1] for d in done])
            labels = labels if label_map is None else label_map[labels]
            per_model = []
            for model, counts in zip(models, wrong):
                per_model.append(_protocols(model.probabilities(crops, batch * n_views).reshape(
                    len(done), n_views, -1)))
                for key in protocols:
                    _count_wrong(counts, key, per_model[-1][key], labels)
            for key in protocols:
                _count_wrong(wrong[-1], key, average_probabilities([p[key] for p in per_model]), labels)
            bar.update(len(done))
    for model in models:
        model.close()
    rates = [{key: {k: v / float(len(flow)) for k, v in counts[key].items()} for key in protocols}
             for counts in wrong]
    return {"models": [dict(checkpoint=c, **r) for c, r in zip(checkpoints, rates[:-1])],
            "average": rates[-1] if len(models) > 1 else None, "images": len(flow)}


def format_results(results, model_name, dataset):
    """Markdown table in the release's style: one row per model and protocol, plus the "Average" rows."""
    models = [("%s (%s)" % (model_name, m["checkpoint"] or "random init"), m) for m in results["models"]]
    if results["average"] is not None:
        models.append(("Average (%d models)" % len(results["models"]), results["average"]))
    rows = [[name, dataset, key] + ["%.2f%%" % (100 * v) for v in (r[key]["top1"], r[key]["top5"],
                                                                  1 - r[key]["top1"], 1 - r[key]["top5"])]
            for name, r in models for key in PROTOCOLS if key in r]
    return markdown_table(["model", "dataset", "protocol", "top-1 err", "top-5 err", "top-1 acc", "top-5 acc"], rows)


def _checkpoint(path, classes, tmp, model):
    """A project checkpoint prefix for ``--checkpoint path``: the release's ``.h5`` converted into ``tmp``."""
    if not path.endswith(".h5"):
        return resolve_checkpoint(path)
    if model != release.MODEL:
        raise ValueError("--checkpoint %s: the release's .h5 files convert into %s only (its ResNetV2-50); the "
                         "config's model is %s" % (path, release.MODEL, model))
    if classes is None:
        raise ValueError("--checkpoint %s: a .h5 model needs --classes FILE|sorted (its output order by class id)"
                         % path)
    if not os.path.isfile(path):
        raise ValueError("--checkpoint %s: no such file" % path)
    release.convert(path, tmp)
    return os.path.join(tmp, release.CHECKPOINT)


def main(argv=None):
    """Entry point (``cli.run(main)``: bad input is one ``error:`` line and exit status 2)."""
    args, cfg = parse_flags("test", argv)
    if args.eval_batch <= 0 or (args.limit is not None and args.limit <= 0):
        raise ValueError("--batch and --limit must be positive")
    setup_devices(args)
    record_dir = ensure_records(cfg["data"])
    with tempfile.TemporaryDirectory(prefix="h5_converted_") as tmp:
        checkpoints = [_checkpoint(c, args.classes, os.path.join(tmp, str(i)), cfg["model"])
                       for i, c in enumerate(args.checkpoint)]
        results = evaluate(cfg, record_dir, checkpoints, args.eval_batch, args.limit, args.threads, args.seam_carve,
                           args.classes)
    for model, given in zip(results["models"], args.checkpoint):
        model["checkpoint"] = given if given.endswith(".h5") else model["checkpoint"]
    print(format_results(results, cfg["model"], record_dir))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    cli.run(main)
