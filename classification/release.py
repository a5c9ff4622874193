"""The classification release's published Keras weights (``ocd-ResNetV2-50.h5``) in the project
(``python -m zoo ... classification-seed``, ``classification/test.py --checkpoint X.h5``).

The release saves its subclassed ``ResNet_v2_50`` with ``model.save_weights(H5)``: one HDF5 group per top-level
layer in the model's order (``conv0``, ``max_pooling2d``, ``conv1_0`` .. ``conv4_2``, ``bn``, ..., ``fully_connected``),
each listing its ``weight_names``; a ``BottleneckBlock`` group holds its sub-layers' weights, named
``<block>/conv2d_K/kernel:0`` and ``<block>/batch_normalization_K/...:0`` with K counting up in creation order
(shortcut conv first when there is one, then ``conv_0..2``; ``bn_0..2``). ``convert`` assigns every weight exactly
once to the project's ``resnet50_v2_seed`` (same layers, same padding, BN epsilon 1e-5, pre-activation order; the
first conv's input channels reversed: the release feeds BGR, the project RGB) and writes a TF checkpoint.
"""
import contextlib
import os
import re

import numpy as np

from classification.crops import center_crop, resize_shorter
from classification.model import classifier_logits
from common.tf1 import tf
from common.weights.layouts import bgr_to_rgb_first_conv
from common.weights.mapping import assign_exactly
from common.weights.tf_checkpoint import check_covers_graph, write_checkpoint

RELEASE = "classification-seed"
MODEL = "resnet50_v2_seed"
CHECKPOINT = "model"
STAGES = (3, 4, 6, 3)
MEAN_BGR, STD_BGR = (103.939, 116.779, 123.68), (58.393, 57.12, 57.375)  # the release's ILSVRC constants
MODELS = [{
    "model": "ocd-ResNetV2-50", "file": "ocd-ResNetV2-50.h5", "format": "keras-h5 (save_weights)",
    "reported": "21.95% top-1 / 5.81% top-5 error", "protocol": "ILSVRC-2012 val, 10 crops (softmax averaged)",
    "command": "python classification/test.py --config exp_configs/classification.json:ilsvrc_resnet50_v2 "
               "--checkpoint ocd-ResNetV2-50.h5 --classes sorted --data RECORDS"}]
BN_LEAVES = {"gamma": "gamma", "beta": "beta", "moving_mean": "mean/EMA", "moving_variance": "variance/EMA"}


def _text(value):
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def read_h5(src):
    """``({source name: ndarray}, {layer: [source names in the file's order]})`` of a Keras weights file
    (``save_weights``; a full ``model.save`` file's ``model_weights`` group too)."""
    try:
        import h5py
    except ImportError:
        raise ValueError("%s: reading Keras .h5 files needs h5py (`make setup-zoo` adds it)" % src)
    try:
        f = h5py.File(src, "r")
    except OSError as e:
        raise ValueError("%s: not a readable HDF5 file (%s)" % (src, e))
    with f:
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in root.attrs:
            raise ValueError("%s: not a Keras weights file (no layer_names attribute)" % src)
        arrays, layers = {}, {}
        for layer in (_text(n) for n in root.attrs["layer_names"]):
            names = [_text(n) for n in root[layer].attrs.get("weight_names", [])]
            layers[layer] = ["%s/%s" % (layer, n) for n in names]
            for name, key in zip(names, layers[layer]):
                arrays[key] = np.asarray(root[layer][name])
    return arrays, layers


def _sublayers(names, kind):
    """{sub-layer: {leaf: source name}} of the ``kind`` (conv2d / batch_normalization) sub-layers of a block, in
    creation order (Keras numbers same-kind layers conv2d, conv2d_1, ... as it creates them)."""
    found = {}
    for name in names:
        parts = name[:-2].split("/") if name.endswith(":0") else name.split("/")
        match = re.match(r"^%s(?:_(\d+))?$" % kind, parts[-2])
        if match:
            found.setdefault((int(match.group(1) or 0), parts[-2]), {})[parts[-1]] = name
    return [found[k] for k in sorted(found)]


def _block_plan(scope, names):
    convs, bns = _sublayers(names, "conv2d"), _sublayers(names, "batch_normalization")
    if len(convs) not in (3, 4) or len(bns) != 3 or len(names) != len(convs) + 12:
        raise ValueError("layer %s: expected 3 or 4 conv kernels and 3 batch norms, found %d weights"
                         % (scope, len(names)))
    targets = (["convshortcut"] if len(convs) == 4 else []) + ["conv1", "conv2", "conv3"]
    plan = {"%s/%s/W" % (scope, t): (c["kernel"], None) for t, c in zip(targets, convs)}
    for target, bn in zip(("preact/bn", "conv1/bn", "conv2/bn"), bns):
        plan.update({"%s/%s/%s" % (scope, target, BN_LEAVES[leaf]): (src, None) for leaf, src in bn.items()})
    return plan


def mapping_plan(layers):
    """{project variable: (source name, transform)} for the release's layer groups (``read_h5``); a missing or
    unexpected weighted layer is a ValueError naming it."""
    blocks = ["conv%d_%d" % (i + 1, j) for i, n in enumerate(STAGES) for j in range(n)]
    weighted = [name for name, names in layers.items() if names]
    expected = ["conv0"] + blocks + ["bn", "fully_connected"]
    if weighted != expected:
        odd = [n for n in weighted if n not in expected] or [n for n in expected if n not in weighted]
        raise ValueError("layer %s: the weighted layers are not the release's ResNet_v2_50 (%s ... %s)"
                         % (odd[0] if odd else weighted, expected[0], expected[-1]))
    plan = {"conv0/W": (layers["conv0"][0], bgr_to_rgb_first_conv), "linear/W": (layers["fully_connected"][0], None)}
    for name in blocks:
        stage, block = (int(x) for x in name[4:].split("_"))
        plan.update(_block_plan("group%d/block%d" % (stage - 1, block), layers[name]))
    bn = _sublayers(layers["bn"], "bn")
    plan.update({"bnlast/bn/%s" % BN_LEAVES[leaf]: (src, None) for leaf, src in (bn[0] if bn else {}).items()})
    return plan


def _project_variables(num_classes):
    with tf.Graph().as_default():
        classifier_logits(tf.placeholder(tf.float32, [None, 224, 224, 3]),
                          {"model": MODEL, "num_classes": num_classes, "weight_decay": 0.0}, False)
        return [(v.op.name, tuple(v.shape.as_list())) for v in tf.global_variables()]


def convert(src, out_dir):
    """Convert the release's ``.h5`` ``src`` into the TF checkpoint ``out_dir/model``; returns the zoo.json fields."""
    arrays, layers = read_h5(src)
    plan = mapping_plan(layers)
    num_classes = int(arrays[plan["linear/W"][0]].shape[1])
    project = _project_variables(num_classes)
    converted = assign_exactly(arrays, plan, shapes=dict(project))
    check_covers_graph(converted, project)
    write_checkpoint(converted, os.path.join(out_dir, CHECKPOINT))
    return {"architecture": "%s (%d classes)" % (MODEL, num_classes), "num_classes": num_classes,
            "input": {"layout": "NHWC", "size": [224, 224], "channel_order": "BGR", "mean": list(MEAN_BGR),
                      "std": list(STD_BGR), "scale": "0-255 pixels: (x - mean) / std"},
            "class_order": None, "name_map": {s: p for p, (s, _) in sorted(plan.items())},
            "checkpoint": CHECKPOINT, "first_conv": "input channels reversed (BGR release -> RGB project)"}


def preprocess(path):
    """One image file -> [224, 224, 3] float32: the release's evaluation view (OpenCV BGR, short side 256
    bilinear with truncated sizes, centre 224 crop, ``(x - mean) / std`` with its BGR constants)."""
    import cv2
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("%s: not a readable image" % path)
    view = center_crop(resize_shorter(image, 256, "bilinear", "floor"), 224).astype(np.float32)
    return ((view - np.float32(MEAN_BGR)) / np.float32(STD_BGR)).astype(np.float32)


@contextlib.contextmanager
def feature_extractor(model_dir, meta=None):
    """Yield ``fn(batch [n, 224, 224, 3] normalised BGR) -> [n, classes]``: the softmax in the model's order."""
    prefix = os.path.join(model_dir, CHECKPOINT)
    num_classes = int(dict(tf.train.list_variables(prefix))["linear/W"][1])
    graph = tf.Graph()
    with graph.as_default():
        images = tf.placeholder(tf.float32, [None, 224, 224, 3])
        prob = tf.nn.softmax(classifier_logits(images[..., ::-1], {"model": MODEL, "num_classes": num_classes,
                                                                  "weight_decay": 0.0}, False))
        saver = tf.train.Saver(tf.global_variables())
    sess = tf.Session(graph=graph)
    try:
        saver.restore(sess, prefix)
        yield lambda batch: sess.run(prob, {images: np.asarray(batch, np.float32)})
    finally:
        sess.close()
