"""The counting release in the project's model zoo: it published no weights, so the source is a checkpoint
written by its own phase 1 (``counter_trn.py``), converted name by name to the project's ``alexnet_counting``.

Source names (the release's ``nets/alexnet.py``, TF-slim layers under ``alexnet_v2``): ``conv1``..``conv5``
with ``weights`` (HWIO) and ``biases``; the three fully-connected layers have no explicit scope, so slim names
them ``fully_connected``, ``fully_connected_1``, ``fully_connected_2`` (fc6, fc7, fc8 = the counting feature).
Besides them its TensorPack ``ModelSaver`` file holds ``global_step``, the non-trainable learning-rate scalar
named by ``--learning_rate_var_name`` (``lr_cnt`` in its README) and the optimizer's state (Adam: the slots
``<variable>/Adam``, ``<variable>/Adam_1`` and ``beta1_power``, ``beta2_power``); those are ignored.
"""
import contextlib
import functools
import os
import re

import numpy as np

from common.data.augment import IMAGENET_MEAN, IMAGENET_STD, preprocess as augment
from common.models.registry import get_model
from common.resume import checkpoint_prefix
from common.tf1 import tf
from common.weights.mapping import assign_exactly
from common.weights.tf_checkpoint import check_covers_graph, read_checkpoint, write_checkpoint
from counting.data import val_augment

__all__ = ["RELEASE", "MODELS", "INPUT", "CHECKPOINT_NAME", "PROBE_INPUT", "slim_name", "counting_plan",
           "convert", "preprocess", "feature_extractor"]

RELEASE = "counting"
MODELS = [{
    "model": "counting AlexNet-v2 (no published weights)", "file": "-",
    "format": "TF1 checkpoint of the release's own phase 1 (slim names alexnet_v2/conv1/weights)",
    "reported": "no weights published; linear top-1 conv1-conv5 18.6 / 30.3 / 33.6 / 30.1 / 24.9 (release README, "
                "from its own phase 1 + 2)",
    "protocol": "linear probes on frozen conv1-conv5, ImageNet, 256 px centre crop",
    "command": "python counting/counter_trn.py --batch_size 256 --exp_name cnt_gpu4_bz256_adam_250 --net alexnet "
               "--learning_rate 0.0001 --gpu 0,1,2,3 --logits_dim 1000 --opt adam --epoch 250 "
               "--learning_rate_var_name lr_cnt --max_iters 1251 --data_dir IMAGENET; then "
               "python counting/classifier_trn.py --pretrained --cnt_exp_name cnt_gpu4_bz256_adam_250 ... "
               "(--cnt_exp_name DIR: a `zoo convert counting` directory or a release phase-1 checkpoint)",
}]
PROBE_INPUT = {"image_size": 256, "resize_size": 256}  # the release's phase-2 (and validation) input
INPUT = {"layout": "NHWC", "size": PROBE_INPUT["image_size"], "channels": "RGB",
         "range": "normalised: (x / 255 - mean) / std", "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
CHECKPOINT_NAME = "model"
COUNTING_SIZE = 128  # phase 1 sees 128 px tiles and downsampled images: fc6's input is 3 x 3 x 256
SLIM_PARTS = {"W": "weights", "b": "biases"}
FULLY_CONNECTED = {"fc_6": "fully_connected", "fc_7": "fully_connected_1", "fc_8": "fully_connected_2"}
OPTIMIZER_STATE = re.compile(r"(/(Adam|Adam_1|Momentum|RMSProp|RMSProp_1|Adadelta|Adadelta_1)$"
                             r"|^(beta1_power|beta2_power|global_step)$)")


def slim_name(project_name):
    """The release's slim name of a project variable (``alexnet_v2/conv1/W`` -> ``alexnet_v2/conv1/weights``,
    ``alexnet_v2/fc_6/b`` -> ``alexnet_v2/fully_connected/biases``)."""
    scope, layer, part = project_name.split("/")
    return "/".join([scope, FULLY_CONNECTED.get(layer, layer), SLIM_PARTS[part]])


def _project_graph(logits_dim):
    """``[(name, shape)]`` of the project's counting network (fc layers only with ``logits_dim``)."""
    with tf.Graph().as_default():
        get_model("alexnet_counting")(tf.zeros([1, COUNTING_SIZE, COUNTING_SIZE, 3]), False,
                                      num_classes=logits_dim or None)
        return [(v.op.name, v.shape.as_list()) for v in tf.global_variables()]


def counting_plan(graph):
    """``{project variable: (slim name, None)}`` for the project variables ``graph`` ([(name, shape)])."""
    return {name: (slim_name(name), None) for name, _ in graph}


def _ignored(source):
    """Source names deliberately not converted: optimizer state, ``global_step`` and the learning-rate scalar
    (any float scalar outside ``alexnet_v2/``)."""
    return [n for n, v in source.items() if OPTIMIZER_STATE.search(n)
            or (not n.startswith("alexnet_v2/") and np.ndim(v) == 0 and np.asarray(v).dtype.kind == "f")]


def convert(src, out_dir):
    """Write ``out_dir/model`` (``alexnet_v2/conv1..5`` and, when present, ``fc_6..fc_8`` under the project's
    names); returns the zoo.json fields known here."""
    if not os.path.exists(src) and not os.path.exists(src + ".index"):
        raise ValueError("counting: source %s does not exist" % src)
    source = read_checkpoint(checkpoint_prefix(src, "counting"))
    fc8 = source.get(slim_name("alexnet_v2/fc_8/W"))
    graph = _project_graph(0 if fc8 is None else int(fc8.shape[-1]))
    plan = counting_plan(graph)
    arrays = assign_exactly(source, plan, ignore=_ignored(source), shapes=dict(graph))
    check_covers_graph(arrays, graph)
    os.makedirs(out_dir, exist_ok=True)
    write_checkpoint(arrays, os.path.join(out_dir, CHECKPOINT_NAME))
    return {"architecture": "alexnet_counting", "input": INPUT, "class_order": None,
            "name_map": {source_name: mine for mine, (source_name, _) in plan.items()},
            "logits_dim": None if fc8 is None else int(fc8.shape[-1])}


@functools.lru_cache(maxsize=1)
def _preprocess_graph():
    graph = tf.Graph()
    with graph.as_default():
        data = tf.placeholder(tf.string, [])
        out = augment(data, val_augment(PROBE_INPUT["image_size"], PROBE_INPUT["resize_size"]))
    return tf.Session(graph=graph), data, out


def preprocess(path):
    """One image file -> ``[256, 256, 3]`` float32, the release's validation input: shorter side to 256
    (linear, antialiased as DALI), centre 256 x 256 crop, ImageNet mean/std on the 0..255 scale."""
    sess, data, out = _preprocess_graph()
    with open(path, "rb") as f:
        return sess.run(out, {data: f.read()})


@contextlib.contextmanager
def feature_extractor(model_dir, meta):
    """Yields ``fn(batch [n, H, W, 3] normalised) -> [n, d]``: conv5 (after ReLU) of the converted model,
    flattened in NHWC order."""
    graph = tf.Graph()
    with graph.as_default():
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        conv5 = get_model("alexnet_counting")(images, False)["conv5"]
        flat = tf.reshape(conv5, [tf.shape(conv5)[0], -1])
        saver = tf.train.Saver(tf.global_variables())
    with tf.Session(graph=graph) as sess:
        saver.restore(sess, checkpoint_prefix(model_dir, "counting model"))
        yield lambda batch: sess.run(flat, {images: np.asarray(batch, np.float32)})
