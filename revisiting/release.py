"""The revisiting release's published TF1 Hub modules in the project (``python -m zoo ... revisiting``).

``convert`` reads a module exactly as published (directory or ``.tar.gz``, see ``hub_module.py``), recognises
its trunk from the module's own graph and variables (architecture, v1/v2, width, root stride, last ReLU,
logits size, BN epsilon), and writes a project module directory (``variables/variables`` under the project's
names + ``module.json``) that ``train_and_eval.py --task linear_eval --hub_module`` reads. Every project variable
comes from exactly one module variable (``tf.layers`` names ``conv2d``, ``conv2d_1``, ... and
``batch_normalization``, ... in the release's creation order, which the project's trunks follow layer for
layer); the logits' 1x1 conv becomes a dense kernel.
"""
import contextlib
import json
import os

import numpy as np

from common.tf1 import tf
from common.weights.layouts import conv1x1_to_dense
from common.weights.mapping import assign_exactly
from common.weights.tf_checkpoint import check_covers_graph, write_checkpoint
from revisiting.export import MODULE_FILE, module_net, read_module_spec
from revisiting.hub_module import inference_graph, module_variables, open_hub_module
from revisiting.preprocess import get_preprocess_fn

RELEASE = "revisiting"
EVAL_COMMAND = ("python revisiting/train_and_eval.py --config exp_configs/revisiting.json:%s "
                "--hub_module MODULE --workdir W --dataset_dir RECORDS")
PROTOCOL = ("ImageNet linear evaluation, pre_logits (the release's README reports no number; "
            "its Colab links the modules; the number is the paper's)")
MODELS = [
    {"model": "rotation, RevNet50 x16", "file": "rotation module (TF-Hub dir or .tar.gz)", "format": "tf1-hub",
     "reported": "55.4% top-1", "protocol": PROTOCOL, "command": EVAL_COMMAND % "eval_rotation_or_exemplar"},
    {"model": "exemplar, ResNet50 v1 x3", "file": "exemplar module (TF-Hub dir or .tar.gz)", "format": "tf1-hub",
     "reported": "46.0% top-1", "protocol": PROTOCOL, "command": EVAL_COMMAND % "eval_rotation_or_exemplar"},
    {"model": "relative patch location, ResNet50 v1 x4", "file": "relative_patch_location module",
     "format": "tf1-hub", "reported": "51.4% top-1", "protocol": PROTOCOL,
     "command": EVAL_COMMAND % "eval_jigsaw_or_relative_patch_location"},
    {"model": "jigsaw, ResNet50 v1 x4", "file": "jigsaw module (TF-Hub dir or .tar.gz)", "format": "tf1-hub",
     "reported": "44.6% top-1", "protocol": PROTOCOL,
     "command": EVAL_COMMAND % "eval_jigsaw_or_relative_patch_location"},
]
# (conv layers incl. the logits, batch norms) -> (architecture, mode) of the release's trunks
ARCHITECTURES = {(54, 53): ("resnet50", "v1"), (54, 49): ("resnet50", "v2"), (50, 49): ("revnet50", "v2"),
                 (19, 18): ("vgg19", "v2")}
BN_EPSILON = 1e-3  # tf.layers' default, what the project's revisiting trunks use
BN_NAMES = {"gamma": "gamma", "beta": "beta", "mean/EMA": "moving_mean", "variance/EMA": "moving_variance"}
EVAL_PREPROCESSING = dict(spec="resize_small,crop,-1_to_1", smaller_size=256, crop_size="224,224")


def _layer_name(index, base):
    return base if index == 0 else "%s_%d" % (base, index)


def _nodes(graph_def):
    return {node.name: node for node in graph_def.node}


def _conv_stride(nodes, layer):
    node = nodes.get(layer + "/Conv2D")
    if node is None:
        raise ValueError("module graph has no %s/Conv2D" % layer)
    return int(node.attr["strides"].list.i[1])


def _bn_epsilons(nodes):
    return {n.name: n.attr["epsilon"].f for n in nodes.values() if n.op.startswith("FusedBatchNorm")}


def _ends_with_relu(nodes, tensor_name):
    """Whether ``pre_logits`` (squeeze of a spatial mean) is taken after a ReLU."""
    node = nodes[tensor_name.split(":")[0]]
    while node.op in ("Squeeze", "Mean", "Identity"):
        node = nodes[node.input[0].split(":")[0].lstrip("^")]
    return node.op == "Relu"


def describe_module(meta, variables):
    """The project's module spec (``module.json`` dict) of a release module, read from its inference meta graph
    and its variables; a module the project cannot rebuild exactly is a ValueError saying why."""
    nodes = _nodes(meta.graph_def)
    convs = sorted((n for n in variables if n.startswith("conv2d") and n.endswith("/kernel")),
                   key=lambda n: int(n.split("/")[0][7:] or 0))
    bns = [n for n in variables if n.startswith("batch_normalization") and n.endswith("/gamma")]
    if "conv2d/kernel" not in variables:
        raise ValueError("module variables hold no conv2d/kernel (the release's tf.layers names at the module's "
                         "top level): not a revisiting trunk")
    if "representation" not in meta.signature_def:
        raise ValueError("module has no `representation` signature (signatures: %s)"
                         % ", ".join(sorted(meta.signature_def)))
    root, logits = variables["conv2d/kernel"], variables[convs[-1]]
    layers = (len(convs), len(bns))
    if logits.shape[:2] != (1, 1) or layers not in ARCHITECTURES:
        raise ValueError("module has %d conv and %d batch_normalization layers: none of the release's trunks (%s)"
                         % (layers + (", ".join("%s %d/%d" % (v[0] + (k,)) for k, v in ARCHITECTURES.items()),)))
    architecture, mode = ARCHITECTURES[layers]
    epsilons = _bn_epsilons(nodes)
    odd = sorted(n for n, e in epsilons.items() if abs(e - BN_EPSILON) > 1e-9)
    if not epsilons or odd:
        raise ValueError("module BN epsilon: expected %g (tf.layers) in every FusedBatchNorm, %s"
                         % (BN_EPSILON, "found none" if not epsilons else "%s has %g" % (odd[0], epsilons[odd[0]])))
    if architecture == "vgg19":  # no strides to choose
        strided = 3
    elif architecture == "revnet50":  # transitions: an average pool where the block's stride is 2
        strided = sum(n.op == "AvgPool" for n in nodes.values())
    else:
        strided = sum(_conv_stride(nodes, c.split("/")[0]) == 2 for c in convs[1:-1]
                      if variables[c].shape[:2] == (3, 3))
    root_stride = 2 if architecture == "vgg19" else _conv_stride(nodes, "conv2d")
    if (root_stride, strided) not in ((2, 3), (1, 2)):
        raise ValueError("module trunk strides (root %d, %d strided blocks) are neither the release's image "
                         "trunk (2, 3) nor its patch trunk (1, 2)" % (root_stride, strided))
    pre_logits = meta.signature_def["representation"].outputs["pre_logits"].name
    num_classes = int(logits.shape[3])
    task = "relative_patch_location" if root_stride == 1 else ("rotation" if num_classes == 4 else "exemplar")
    shape = meta.signature_def["representation"].inputs["image"].tensor_shape
    root_width = {"revnet50": 64, "resnet50": 16, "vgg19": 8}[architecture]  # root channels per filters_factor
    return {"architecture": architecture, "filters_factor": int(root.shape[3]) // root_width, "mode": mode,
            "last_relu": mode == "v1" or _ends_with_relu(nodes, pre_logits), "task": task,
            "num_classes": num_classes,
            "input_shape": [None if d.size < 0 else int(d.size) for d in shape.dim] or [None, None, None, 3]}


def _input_shape(spec):
    """The module's input shape; free sizes become 64 (only VGG19's fc6 depends on the size, and its module
    fixes it)."""
    return [None] + [64 if d is None else d for d in spec["input_shape"][1:3]] + [3]


def _project_variables(spec):
    """The project trunk's variables ``[(name, shape)]`` in creation order."""
    with tf.Graph().as_default():
        image = tf.placeholder(tf.float32, _input_shape(spec))
        module_net(spec)(image, False, num_classes=spec["num_classes"])
        return [(v.op.name, tuple(v.shape.as_list())) for v in tf.global_variables()]


def _layers(project_vars):
    """Project layers in creation order: ``[(kind, layer scope, [variable names])]``, kind conv / bn / logits."""
    layers = []
    for name, shape in project_vars:
        scope, leaf = name.rsplit("/", 1)
        if leaf == "EMA":
            scope = scope.rsplit("/", 1)[0]
        kind = "bn" if leaf in ("gamma", "beta", "EMA") else ("logits" if scope == "module/logits" else "conv")
        if not layers or layers[-1][1] != scope:
            layers.append((kind, scope, []))
        layers[-1][2].append(name)
    return layers


def mapping_plan(spec):
    """{project variable: (module variable, transform)} for a module of ``spec``, and the project's shapes."""
    project_vars = _project_variables(spec)
    shapes = dict(project_vars)
    plan, n_conv, n_bn = {}, 0, 0
    for kind, scope, names in _layers(project_vars):
        if kind == "bn":
            source = _layer_name(n_bn, "batch_normalization")
            plan.update({"%s/%s" % (scope, k): ("%s/%s" % (source, v), None) for k, v in BN_NAMES.items()})
            n_bn += 1
        elif kind == "conv":
            plan[names[0]] = (_layer_name(n_conv, "conv2d") + "/kernel", None)
            n_conv += 1
    logits = _layer_name(n_conv, "conv2d")
    kernel = [n for n in shapes if n.startswith("module/logits/") and len(shapes[n]) in (2, 4)][0]
    plan.update({kernel: (logits + "/kernel", conv1x1_to_dense if len(shapes[kernel]) == 2 else None),
                 "module/logits/b": (logits + "/bias", None)})
    return plan, shapes


def convert(src, out_dir):
    """Convert the Hub module ``src`` (directory or .tar.gz) into the project module directory ``out_dir``;
    returns the zoo.json fields."""
    with open_hub_module(src) as module_dir:
        meta = inference_graph(module_dir)
        variables = module_variables(module_dir)
        spec = describe_module(meta, variables)
    plan, shapes = mapping_plan(spec)
    arrays = assign_exactly(variables, plan, shapes=shapes)
    check_covers_graph(arrays, list(shapes.items()))
    os.makedirs(out_dir, exist_ok=True)
    write_checkpoint(arrays, os.path.join(out_dir, "variables", "variables"), write_state=False)
    with open(os.path.join(out_dir, MODULE_FILE), "w") as f:
        json.dump(spec, f, indent=2)
    size = spec["input_shape"][1:3]
    return {"architecture": "%s %s x%d (%s trunk)" % (spec["architecture"], spec["mode"], spec["filters_factor"],
                                                     "patch" if spec["task"] == "relative_patch_location" else "image"),
            "input": {"layout": "NHWC", "size": None if None in size else size, "channel_order": "RGB",
                      "range": "[-1, 1] (rotation/exemplar evaluation: x / 127.5 - 1)"},
            "class_order": None, "name_map": {source: project for project, (source, _) in sorted(plan.items())},
            "module_spec": spec, "bn_epsilon": BN_EPSILON}


def preprocess(path):
    """One image file -> [224, 224, 3] float32, the release's rotation/exemplar evaluation preprocessing
    (``resize_small`` 256 (area), central 224 crop, ``-1_to_1``)."""
    spec = dict(EVAL_PREPROCESSING)
    fn = get_preprocess_fn(spec.pop("spec"), False, **spec)
    with tf.Graph().as_default():
        raw = tf.placeholder(tf.string, [])
        image = tf.image.decode_image(raw, channels=3, expand_animations=False)
        out = fn({"image": image})["image"]
        with tf.Session(config=tf.ConfigProto(device_count={"GPU": 0})) as sess, open(path, "rb") as f:
            return np.asarray(sess.run(out, {raw: f.read()}), np.float32)


@contextlib.contextmanager
def feature_extractor(model_dir, meta=None):
    """Yield ``fn(batch [n, H, W, 3]) -> [n, d]``: the trunk's ``pre_logits`` (flattened) of the converted
    module in ``model_dir``."""
    spec = read_module_spec(model_dir)
    graph = tf.Graph()
    with graph.as_default():
        image = tf.placeholder(tf.float32, [None] + list(spec["input_shape"][1:3]) + [3])
        ends = module_net(spec)(image, False, num_classes=spec["num_classes"])
        rep = tf.reshape(ends["pre_logits"], [tf.shape(image)[0], -1])
        saver = tf.train.Saver(tf.global_variables())
    sess = tf.Session(graph=graph)
    try:
        saver.restore(sess, os.path.join(model_dir, "variables", "variables"))
        yield lambda batch: sess.run(rep, {image: np.asarray(batch, np.float32)})
    finally:
        sess.close()
