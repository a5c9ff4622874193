"""Supervised classification end to end on the toy records: train a small ResNet-18, test it with 1 crop and
10 crops, compare with the same network untrained, and predict one validation image.

    python -m classification.toy_demo RECORD_DIR WORK_DIR

``run(record_dir, work_dir)`` uses ``exp_configs/classification.json:toy`` through the same code as the scripts,
prints the table, writes ``WORK_DIR/prediction.png`` and returns the rows of the cross-method table
(``supervised_top1``: the supervised upper bound next to the self-supervised probes).
"""
import os
import sys
import time

from classification.eval_data import RecordImages
from classification.predict import plot_prediction, predict
from classification.predictor import Classifier, read_run_info, resolve_checkpoint
from classification.test import evaluate, format_results
from classification.train import train
from common.config import load_config
from common.tf1 import tf
from common.train import setup_devices

CONFIG = "exp_configs/classification.json:toy"


def _row(method, result, seconds, notes):
    one, ten = result["1-crop"], result["10-crop"]
    return {"method": method, "supervised_top1": 1.0 - one["top1"], "train_seconds": seconds,
            "notes": "%s; 1-crop top-1/top-5 error %.1f%%/%.1f%%, 10-crop %.1f%%/%.1f%%"
                     % (notes, 100 * one["top1"], 100 * one["top5"], 100 * ten["top1"], 100 * ten["top5"])}


def run(record_dir, work_dir, config=CONFIG):
    """Train, test (1-crop, 10-crop, untrained baseline), predict one image; print the table, return the rows."""
    cfg = load_config(config)
    logdir = os.path.join(work_dir, "classification_toy")
    start = time.time()
    with tf.Graph().as_default():
        train(cfg, record_dir, logdir, setup_devices(""), cfg["batch"])
    seconds = round(time.time() - start, 1)
    checkpoint = resolve_checkpoint(logdir)
    trained = evaluate(cfg, record_dir, [checkpoint])
    untrained = evaluate(cfg, record_dir, [None])
    print(format_results(trained, cfg["model"], "toy validation"))
    print(format_results(untrained, cfg["model"], "toy validation"))
    print("training: %.0f s (%d epochs)" % (seconds, cfg["epochs"]))

    info = read_run_info(checkpoint)
    image, label, _ = next(iter(RecordImages(record_dir, "validation")))
    model = Classifier(info, checkpoint)
    square, top = predict(image, info, [model], topk=min(5, info["num_classes"]))
    model.close()
    out = os.path.join(work_dir, "prediction.png")
    plot_prediction(square, top, info["class_names"], out)
    print("one validation image (true class %s): %s -> %s"
          % (info["class_names"][label], ", ".join("%s %.1f%%" % (info["class_names"][c], 100 * p) for c, p in top),
             out))
    name = "ResNet-18 x%g, %d px" % (cfg["width"], cfg["image_size"])
    return [_row("supervised %s" % name, trained["models"][0], seconds, "%d epochs" % cfg["epochs"]),
            _row("random-init %s (untrained)" % name, untrained["models"][0], 0.0, "baseline for supervised")]


if __name__ == "__main__":
    run(*sys.argv[1:3])
