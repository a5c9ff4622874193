"""The Local Aggregation release's published model in the project: ``checkpoint-1901710.tar``, a tfutils
checkpoint of the LA ResNet-18 (step 1,901,710 of 2,001,800), converted name by name to the project's ResNet.

Source names (the release's ``model/resnet_model.py``, ``model/instance_model.py`` and tfutils): ``tf.layers``
numbers its layers in creation order under ``resnet_model/`` (``conv2d``, ``conv2d_1``, ...,
``batch_normalization``, ..., ``dense``); a v2 unit creates its pre-activation BN, then (first unit of a block
layer only, block layer 1 included) the 1x1 projection, then conv, BN, conv (bottleneck: conv, BN, conv, BN,
conv). tfutils adds ``model_0/__var_copy_0/`` in front of every model variable, ``model_0/`` in front of
``global_step`` and keeps momentum slots under ``model_0/__tfutils_opt__/``; both spellings are read. The bank
(``instance/memory_bank``, ``instance/all_labels``, ``instance/cluster_labels``) and ``global_step`` are carried
(so the release's absolute LR boundaries still hold in a transfer from it); momentum slots are ignored.
"""
import contextlib
import functools
import os
import re
import shutil
import tarfile
import tempfile

import numpy as np

from common.data.augment import IMAGENET_MEAN, IMAGENET_STD, normalize, resize
from common.models.resnet import BLOCKS
from common.resume import checkpoint_prefix
from common.tf1 import tf
from common.weights.mapping import assign_exactly
from common.weights.tf_checkpoint import check_covers_graph, read_checkpoint, write_checkpoint
from local_aggregation.model import network_embedding

__all__ = ["RELEASE", "MODELS", "INPUT", "CHECKPOINT_NAME", "read_source", "release_depth", "resnet_plan",
           "convert", "project_checkpoint", "release_view", "preprocess", "feature_extractor"]

RELEASE = "la"
MODELS = [{
    "model": "LA ResNet-18 (step 1901710)", "file": "checkpoint-1901710.tar", "format": "TF1 checkpoint (tfutils), tar",
    "reported": "none (the release README gives no number for this checkpoint)",
    "protocol": "kNN (1-NN as released, and 200-NN) on the stored bank and labels; linear transfer per layer",
    "command": "python -m local_aggregation.knn_eval DIR --image_dir IMAGENET_TFRS; "
               "python local_aggregation/train_transfer.py --config exp_configs/la_trans_final.json:trans_res18_LA "
               "--load_checkpoint DIR --image_dir IMAGENET_TFRS --gpu 0 --cache_dir SAVE",
}]
# the tensor the release's network_embedding takes: RGB pixel values 0..255 (uint8 there), NHWC, 224 px
INPUT = {"layout": "NHWC", "size": 224, "channels": "RGB", "range": "0-255 (the network divides by 255)",
         "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
CHECKPOINT_NAME = "model"
BN_PARTS = (("gamma", "gamma"), ("beta", "beta"), ("mean/EMA", "moving_mean"), ("variance/EMA", "moving_variance"))
BANK = ("instance/memory_bank", "instance/all_labels", "instance/cluster_labels", "global_step")
TFUTILS_PREFIX = re.compile(r"^model_\d+/(__var_copy_0/)?")
SLOT = re.compile(r"(^__tfutils_opt__/|/Momentum$)")
CONV = re.compile(r"^resnet_model/conv2d(_\d+)?/kernel$")


def _extract_tar(path, folder):
    """Regular files of the tar at ``path`` into ``folder`` (flattened: no member may write outside it)."""
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if member.isfile():
                with tar.extractfile(member) as src, open(os.path.join(folder, os.path.basename(member.name)),
                                                          "wb") as dst:
                    shutil.copyfileobj(src, dst)


def read_source(src):
    """``{release name: ndarray}`` of ``checkpoint-*.tar`` or an extracted prefix, tfutils prefixes stripped."""
    if not os.path.exists(src) and not os.path.exists(src + ".index"):
        raise ValueError("la: source %s does not exist" % src)
    if os.path.isfile(src) and tarfile.is_tarfile(src):
        folder = tempfile.mkdtemp(prefix="la_release_")
        try:
            _extract_tar(src, folder)
            arrays = read_checkpoint(checkpoint_prefix(folder, "la: %s" % os.path.basename(src)))
        finally:
            shutil.rmtree(folder)
    else:
        arrays = read_checkpoint(checkpoint_prefix(src, "la"))
    out = {}
    for name, value in arrays.items():
        short = TFUTILS_PREFIX.sub("", name)
        if short in out:
            raise ValueError("la: %s holds %s both with and without the tfutils prefix" % (src, short))
        out[short] = value
    return out


def release_depth(source):
    """The ResNet depth whose ``tf.layers`` conv count the source has (18: 21 convs, 50: 53, ...)."""
    convs = sum(1 for name in source if CONV.match(name))
    for depth, blocks in sorted(BLOCKS.items()):
        if 1 + len(blocks) + sum(blocks) * (3 if depth >= 50 else 2) == convs:
            return depth
    raise ValueError("la: %d resnet_model/conv2d*/kernel tensors match no ResNet depth (%s)"
                     % (convs, ", ".join(str(d) for d in sorted(BLOCKS))))


def resnet_plan(depth):
    """``{project variable: (release name, None)}`` of the release's v2 ResNet-``depth`` with its 128-d head,
    following ``resnet_model.py``'s creation order."""
    plan, count = {}, {"conv2d": 0, "batch_normalization": 0}

    def layer(kind):
        n = count[kind]
        count[kind] += 1
        return "resnet_model/%s%s" % (kind, "_%d" % n if n else "")

    def conv(project):
        plan[project + "/W"] = (layer("conv2d") + "/kernel", None)

    def bn(project):
        source = layer("batch_normalization")
        plan.update((project + "/" + mine, (source + "/" + theirs, None)) for mine, theirs in BN_PARTS)

    convs = 3 if depth >= 50 else 2
    conv("conv0")
    for b, units in enumerate(BLOCKS[depth]):
        for u in range(units):
            unit = "block%d/unit%d/" % (b + 1, u + 1)
            bn(unit + "preact/bn")
            if u == 0:
                conv(unit + "shortcut")
            for c in range(1, convs + 1):
                conv(unit + "conv%d" % c)
                if c < convs:
                    bn(unit + "conv%d/bn" % c)
    bn("final_bn")
    plan["logits/W"] = ("resnet_model/dense/kernel", None)
    plan["logits/b"] = ("resnet_model/dense/bias", None)
    return plan


def convert(src, out_dir):
    """Write ``out_dir/model`` (project names: backbone, head, bank, labels, cluster labels, global step);
    returns the zoo.json fields known here."""
    source = read_source(src)
    depth = release_depth(source)
    plan = resnet_plan(depth)
    plan.update((name, (name, None)) for name in BANK if name in source)
    with tf.Graph().as_default():
        network_embedding(tf.zeros([1, 224, 224, 3]), False, "resnet%d" % depth)
        graph = [(v.op.name, v.shape.as_list()) for v in tf.global_variables()]
    arrays = assign_exactly(source, plan, ignore=[n for n in source if SLOT.search(n)], shapes=dict(graph))
    check_covers_graph(arrays, graph)
    os.makedirs(out_dir, exist_ok=True)
    write_checkpoint(arrays, os.path.join(out_dir, CHECKPOINT_NAME))
    return {"architecture": "resnet%d" % depth, "input": INPUT, "class_order": None,
            "name_map": {source_name: mine for mine, (source_name, _) in plan.items()},
            "bank_rows": int(source["instance/memory_bank"].shape[0]) if "instance/memory_bank" in source else 0,
            "global_step": int(source["global_step"]) if "global_step" in source else None}


def project_checkpoint(path, work_dir, what):
    """Project checkpoint prefix for ``path`` (argument ``what``): a converted directory or a project checkpoint
    as it is; the release's ``.tar`` or prefix (``resnet_model/...`` names) converted into
    ``work_dir/release_checkpoint`` first."""
    if not (os.path.isfile(path) and tarfile.is_tarfile(path)):
        prefix = checkpoint_prefix(path, what)
        names = [TFUTILS_PREFIX.sub("", n) for n, _ in tf.train.list_variables(prefix)]
        if not any(n.startswith("resnet_model/") for n in names):
            return prefix
    out = os.path.join(work_dir, "release_checkpoint")
    convert(path, out)
    return os.path.join(out, CHECKPOINT_NAME)


def release_view(image, size=224):
    """The release's ``resnet_validate`` view of a decoded image: the central square of side
    ``floor(224 min(H, W) / 256)`` (offsets ``int((H - c) / 2)``, ``int((W - c) / 2)``), area-resized to ``size``,
    truncated to uint8 as released; float32 0..255."""
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    c = tf.minimum(h, w) * 224 // 256
    crop = image[(h - c) // 2:(h - c) // 2 + c, (w - c) // 2:(w - c) // 2 + c]
    return tf.cast(tf.cast(resize(tf.cast(crop, tf.float32), [size, size], "area"), tf.uint8), tf.float32)


@functools.lru_cache(maxsize=1)
def _preprocess_graph():
    graph = tf.Graph()
    with graph.as_default():
        data = tf.placeholder(tf.string, [])
        image = tf.image.decode_image(data, channels=3, expand_animations=False)
        out = release_view(image)
    return tf.Session(graph=graph), data, out


def preprocess(path):
    """One image file -> ``[224, 224, 3]`` float32 RGB in 0..255, the release's validation preprocessing."""
    sess, data, out = _preprocess_graph()
    with open(path, "rb") as f:
        return sess.run(out, {data: f.read()})


@contextlib.contextmanager
def feature_extractor(model_dir, meta):
    """Yields ``fn(batch [n, 224, 224, 3] in 0..255) -> [n, 128]`` L2-normalised embeddings of the converted
    model in ``model_dir`` (the release's ``network_embedding``: /255, ImageNet mean/std, ResNet, dense, L2)."""
    model_type = meta.get("architecture", "resnet18")
    graph = tf.Graph()
    with graph.as_default():
        images = tf.placeholder(tf.float32, [None, None, None, 3])
        embedding = network_embedding(normalize(images), False, model_type)["embedding"]
        saver = tf.train.Saver(tf.global_variables())
    with tf.Session(graph=graph) as sess:
        saver.restore(sess, checkpoint_prefix(model_dir, "la model"))
        yield lambda batch: sess.run(embedding, {images: np.asarray(batch, np.float32)})
