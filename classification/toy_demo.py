"""Supervised classification end to end on the toy records: the release's recipe and TensorPack's recipe, each
scaled to the toy set and trained on a quarter-width ResNet-18, tested with 1 crop and 10 crops next to the same
network untrained; one validation image predicted.

    python -m classification.toy_demo RECORD_DIR WORK_DIR

``run(record_dir, work_dir)`` uses ``exp_configs/classification.json:toy`` (the release's recipe: one warm-up epoch
+ cosine, label smoothing 0.1, its aspect/short-side/HSV/PCA augmentation) and ``:tp_toy`` (TensorPack's: step
decay, fbresnet augmentation) through the same code as the scripts, prints the tables, writes
``WORK_DIR/prediction.png`` and returns the rows of the cross-method table (``supervised_top1``: the supervised
upper bound next to the self-supervised probes).
"""
import os
import time

from classification.eval_data import RecordImages
from classification.predict import plot_prediction, predict
from classification.predictor import Classifier, read_run_info, resolve_checkpoint
from classification.recipe import resolve_recipe
from classification.test import evaluate, format_results
from classification.train import train
from common import cli
from common.config import load_config
from common.tf1 import tf
from common.devices import setup_devices

CONFIGS = (("release recipe", "exp_configs/classification.json:toy"),
           ("TensorPack recipe", "exp_configs/classification.json:tp_toy"))


def _row(method, result, seconds, notes):
    one, ten = result["1-crop"], result["10-crop"]
    return {"method": method, "supervised_top1": 1.0 - one["top1"], "train_seconds": seconds,
            "notes": "%s; 1-crop top-1/top-5 error %.1f%%/%.1f%%, 10-crop %.1f%%/%.1f%%"
                     % (notes, 100 * one["top1"], 100 * one["top5"], 100 * ten["top1"], 100 * ten["top5"])}


def _train_and_test(spec, record_dir, logdir):
    cfg = resolve_recipe(load_config(spec), spec)
    start = time.time()
    with tf.Graph().as_default():
        train(cfg, record_dir, logdir, setup_devices(""), cfg["batch"])
    seconds = round(time.time() - start, 1)
    result = evaluate(cfg, record_dir, [resolve_checkpoint(logdir)])
    epochs = cfg["epochs"] + (cfg["warmup_epochs"] if cfg["lr_schedule"] == "cosine" else 0)
    return cfg, result, seconds, epochs


def run(record_dir, work_dir, configs=CONFIGS):
    """Train and test both recipes, test the untrained network, predict one image; print tables, return rows."""
    rows = []
    for label, spec in configs:
        logdir = os.path.join(work_dir, "classification_" + spec.rsplit(":", 1)[1])
        cfg, result, seconds, epochs = _train_and_test(spec, record_dir, logdir)
        print("%s (%s), training %.0f s, %d epochs:" % (label, spec, seconds, epochs))
        print(format_results(result, cfg["model"], "toy validation"))
        name = "%s x%g" % (cfg["model"], cfg["width"])
        rows.append(_row("supervised %s, %s, %d px" % (name, label, cfg["image_size"]), result["models"][0], seconds,
                         "%d epochs" % epochs))
    untrained = evaluate(cfg, record_dir, [None])
    print(format_results(untrained, cfg["model"], "toy validation"))
    rows.append(_row("random-init %s (untrained)" % name, untrained["models"][0], 0.0, "baseline for supervised"))

    checkpoint = resolve_checkpoint(os.path.join(work_dir, "classification_" + configs[0][1].rsplit(":", 1)[1]))
    info = read_run_info(checkpoint)
    image, label, _ = next(iter(RecordImages(record_dir, "validation")))
    model = Classifier(info, checkpoint)
    top = predict(image, info, [model], topk=min(5, info["num_classes"]))
    model.close()
    out = os.path.join(work_dir, "prediction.png")
    plot_prediction(image, top, info["class_names"], out)
    print("one validation image (true class %s): %s -> %s"
          % (info["class_names"][label], ", ".join("%s %.1f%%" % (info["class_names"][c], 100 * p) for c, p in top),
             out))
    return rows


def main(argv=None):
    """``RECORD_DIR WORK_DIR`` on the command line: ``run`` them."""
    parser = cli.CliParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("record_dir", metavar="RECORD_DIR", help="the toy records (dataset_miscs/build_tfrs.py)")
    parser.add_argument("work_dir", metavar="WORK_DIR", help="log directories and prediction.png go here")
    args = parser.parse_args(argv)
    run(args.record_dir, args.work_dir)
    return 0


if __name__ == "__main__":
    cli.run(main)
