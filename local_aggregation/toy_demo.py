"""Toy chain of the release: IR warm start -> LA -> linear transfer, next to a random-init baseline.

    python -m local_aggregation.toy_demo --data data/toy/records --work /tmp/la_toy

Runs the release's scripts (configs ``toy_IR``, ``toy_LA``, ``toy_trans``) on the toy records, then embeds
the train and validation splits with each network (centre crop) for 1-NN and weighted kNN (K=200). The
random baseline is the same pipeline with the learning rate at 0 (random weights, BN statistics of the data).
"""
import json
import os
import time

from common import cli
from common.data.input import make_dataset
from common.data.records import read_meta
from common.eval.features import FeatureTower
from common.eval.report import markdown_table
from common.tf1 import tf
from local_aggregation import train, train_transfer
from local_aggregation.augmentation import validation_augment
from local_aggregation.checkpoints import exp_dir
from local_aggregation.knn_monitor import knn_top1
from local_aggregation.model import network_embedding
from local_aggregation.flags import parse_flags, parse_int_list

__all__ = ["run"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRETRAIN = os.path.join(ROOT, "exp_configs", "la_final.json")
TRANSFER = os.path.join(ROOT, "exp_configs", "la_trans_final.json")
RANDOM_STEPS = 20  # lr 0: weights stay at their init, BN statistics follow the data


def _flags(module, config, record_dir, cache_dir, *extra):
    """Parsed flags of a release script (``train`` or ``train_transfer``) for ``config`` on the toy records."""
    argv = ["--config", config, "--image_dir", record_dir, "--cache_dir", cache_dir] + list(extra)
    return parse_flags(module.__name__.rsplit(".", 1)[1], argv)[0]


def _script(module, config, record_dir, cache_dir, *extra):
    """Run a release script in-process on a fresh graph; returns its seconds."""
    start = time.time()
    with tf.Graph().as_default():
        module.run(_flags(module, config, record_dir, cache_dir, *extra))
    return time.time() - start


def embed_split(checkpoint, record_dir, args, split):
    """``(features, labels)`` of a whole split, centre crop, embedded by the network of ``checkpoint``."""
    with tf.Graph().as_default():
        tower = FeatureTower(
            lambda: make_dataset(record_dir, split, args.test_batch_size, validation_augment(args.image_size),
                                 shuffle=False, repeat=False, drop_remainder=False),
            lambda image, label, index: network_embedding(image, False, args.model_type, args.width,
                                                          bn_momentum=args.bn_momentum)["embedding"], "")
        with tf.Session() as sess:
            tf.train.Saver().restore(sess, checkpoint)
            feats, labels, _ = tower.run(sess)
    return feats, labels


def knn_of(checkpoint, record_dir, args, num_classes):
    """1-NN and weighted kNN top-1 of validation against recomputed train features."""
    bank, bank_labels = embed_split(checkpoint, record_dir, args, "train")
    queries, labels = embed_split(checkpoint, record_dir, args, "validation")
    return knn_top1(bank, bank_labels, queries, labels, num_classes, args.knn_k, args.instance_t)


def _transfer_results(cache_dir, save_exp):
    with open(os.path.join(exp_dir(cache_dir, save_exp), "results.json")) as f:
        return {k: v["top1"] for k, v in json.load(f)["results"].items()}


def run(record_dir, work_dir):
    """IR -> LA -> transfer on the toy records and the random baseline; prints a table, returns its rows."""
    cache = os.path.join(os.path.abspath(work_dir), "la_cache")
    ir = _flags(train, PRETRAIN + ":toy_IR", record_dir, cache)
    la_steps = _flags(train, PRETRAIN + ":toy_LA", record_dir, cache).train_num_steps
    trans = _flags(train_transfer, TRANSFER + ":toy_trans", record_dir, cache)
    trans_steps = trans.train_num_steps - la_steps
    random_boundaries = ",".join(str(RANDOM_STEPS + step - la_steps)  # the heads' LR drops at the same head step
                                 for step in parse_int_list(trans.lr_boundaries, "lr_boundaries"))
    seconds = {"IR": _script(train, PRETRAIN + ":toy_IR", record_dir, cache),
               "LA": _script(train, PRETRAIN + ":toy_LA", record_dir, cache)}
    seconds["transfer"] = _script(train_transfer, TRANSFER + ":toy_trans", record_dir, cache)
    seconds["random"] = _script(train, PRETRAIN + ":toy_IR", record_dir, cache, "--exp_id", "toy_random",
                                "--init_lr", "0", "--train_num_steps", str(RANDOM_STEPS))
    _script(train_transfer, TRANSFER + ":toy_trans", record_dir, cache, "--load_exp", "la_toy/test/toy_random",
            "--load_step", str(RANDOM_STEPS), "--save_exp", "la_toy/trans_test/toy_random",
            "--train_num_steps", str(RANDOM_STEPS + trans_steps), "--lr_boundaries", random_boundaries)
    num_classes = int(read_meta(record_dir)["num_classes"])
    models = exp_dir(cache, "la_toy/test")
    knn = {name: knn_of(os.path.join(models, exp, "model-%d" % step), record_dir, ir, num_classes)
           for name, exp, step in (("LA", "toy_LA", la_steps), ("IR", "toy_IR", ir.train_num_steps),
                                   ("random", "toy_random", RANDOM_STEPS))}
    linear = {"LA": _transfer_results(cache, "la_toy/trans_test/toy_LA"),
              "random": _transfer_results(cache, "la_toy/trans_test/toy_random")}
    layers = list(linear["LA"])
    print("\nLocal Aggregation toy chain (ResNet-18 x%g, %d px): top-1 on the toy validation split"
          % (ir.width, ir.image_size))
    print(markdown_table(["network", "1-NN", "%d-NN" % ir.knn_k] + ["linear %s" % k for k in layers], [
        [name, "%.3f" % knn[name]["nn1_top1"], "%.3f" % knn[name]["knn_top1"]]
        + ["%.3f" % linear[name][k] if name in linear else None for k in layers] for name in ("LA", "IR", "random")]))
    print("seconds: %s" % ", ".join("%s %.0f" % kv for kv in seconds.items()))
    note = "toy ResNet-18 x%g at %d px; linear = best of layers %s (10-crop)" % (ir.width, ir.image_size,
                                                                                 ",".join(layers))
    return [
        {"method": "Local Aggregation (IR warm start + LA)", "knn_top1": knn["LA"]["knn_top1"],
         "linear_top1": max(linear["LA"].values()), "train_seconds": seconds["IR"] + seconds["LA"],
         "notes": note + "; 1-NN %.3f" % knn["LA"]["nn1_top1"]},
        {"method": "Instance Recognition (LA's warm start only)", "knn_top1": knn["IR"]["knn_top1"],
         "train_seconds": seconds["IR"], "notes": "1-NN %.3f" % knn["IR"]["nn1_top1"]},
        {"method": "random init (LA pipeline, lr 0)", "knn_top1": knn["random"]["knn_top1"],
         "linear_top1": max(linear["random"].values()), "notes": "1-NN %.3f" % knn["random"]["nn1_top1"]},
    ]


def main(argv=None):
    """``--data RECORD_DIR --work WORK_DIR``: run the toy chain and print its table."""
    parser = cli.CliParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="toy TFRecord directory")
    parser.add_argument("--work", required=True, help="output directory")
    args = parser.parse_args(argv)
    for row in run(args.data, args.work):
        print(row)


if __name__ == "__main__":
    cli.run(main)
