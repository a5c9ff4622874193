"""The lemniscate release (zhirongw/lemniscate.pytorch) in the model zoo (``python -m zoo``): its published
models, their conversion into a project checkpoint, the release's evaluation preprocessing, the embedding.

Input convention (the release's ``main.py`` val transform): PIL RGB, ``Resize(256)`` (shorter side 256, PIL
bilinear, which PIL antialiases when shrinking), ``CenterCrop(224)`` (offsets rounded half up, as the release's
Python 2.7 ``round``), ``ToTensor`` ([0, 1], CHW), ``Normalize`` with the ImageNet mean/std; NCHW float32.
"""
import contextlib
import math
import os

import numpy as np
from PIL import Image

from common.devices import available_gpus
from common.tf1 import tf
from common.weights.tf_checkpoint import write_checkpoint
from instance_disc.model import embedding
from instance_disc.release_weights import read_release

__all__ = ["RELEASE", "MODELS", "INPUT", "CHECKPOINT", "convert", "preprocess", "model_config",
           "feature_extractor"]

RELEASE = "lemniscate"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
RESIZE, CROP = 256, 224
INPUT = {"layout": "NCHW", "size": CROP, "channels": "RGB", "range": "[0, 1] (ToTensor), then (x - mean) / std",
         "mean": list(MEAN), "std": list(STD), "resize_shorter": RESIZE, "center_crop": CROP,
         "interpolation": "PIL bilinear (antialiased when shrinking)"}
CHECKPOINT = "model"  # the checkpoint prefix inside a converted directory
_KNN = "weighted kNN top-1 (K=200, sigma 0.07) of ImageNet val against the stored memory bank"
MODELS = [
    {"model": "ResNet-18 (NCE, 4096 negatives)", "file": "lemniscate_resnet18.pth", "format": "PyTorch .pth",
     "reported": "41.0% kNN top-1", "protocol": _KNN,
     "command": "python instance_disc/main.py DATA -a resnet18 --resume lemniscate_resnet18.pth -e"},
    {"model": "ResNet-50 (NCE, 4096 negatives)", "file": "lemniscate_resnet50.pth", "format": "PyTorch .pth",
     "reported": "46.8% kNN top-1", "protocol": _KNN,
     "command": "python instance_disc/main.py DATA -a resnet50 --resume lemniscate_resnet50.pth -e"},
    {"model": "ResNet-50 updated (Softmax-CE, 65,536 negatives)", "file": "lemniscate_resnet50_update.pth",
     "format": "PyTorch .pth", "reported": "58.5% linear top-1", "protocol": "linear classifier top-1, ImageNet val",
     "command": "python -m zoo convert lemniscate lemniscate_resnet50_update.pth --out D && python "
                "instance_disc/linear_eval.py DATA --resume D --arch resnet50 --layers pre_logits"},
]


def convert(src, out_dir):
    """Write the release checkpoint ``src`` (either PyTorch serialisation) as the project checkpoint
    ``out_dir/model`` (network, memory bank in the release's row order, Z); returns the zoo.json fields."""
    arrays, info = read_release(src)
    write_checkpoint(arrays, os.path.join(out_dir, CHECKPOINT))
    fields = {"architecture": "%s (torchvision layout, %d-d L2-normalised embedding)" % (info["arch"],
                                                                                          info["low_dim"]),
              "input": INPUT, "class_order": None, "name_map": info.pop("name_map"),
              "bank_order": "the release's ImageFolder over DATA/train: classes sorted, files sorted within a class"
                            if info["bank_rows"] else None}
    fields.update(info)
    return fields


def _round_half_up(x):
    return int(math.floor(x + 0.5))


def preprocess(path):
    """One image file -> the release's network input ``[3, 224, 224]`` float32 (the val transform above)."""
    with Image.open(path) as img:
        img = img.convert("RGB")
    w, h = img.size
    if w < h:
        size = (RESIZE, int(RESIZE * h / w))
    else:
        size = (int(RESIZE * w / h), RESIZE)
    if size != (w, h):
        img = img.resize(size, Image.BILINEAR)
    w, h = img.size
    top, left = _round_half_up((h - CROP) / 2.0), _round_half_up((w - CROP) / 2.0)
    x = np.asarray(img.crop((left, top, left + CROP, top + CROP)), np.float32) / 255.0
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return np.ascontiguousarray(x.transpose(2, 0, 1), np.float32)


def model_config(meta):
    """The instance_disc settings of a converted model's zoo.json ``meta`` (architecture, embedding size)."""
    return {"arch": meta["arch"], "layout": "torchvision", "low_dim": int(meta["low_dim"]), "width": 1,
            "stem": "imagenet", "zero_init": False}


@contextlib.contextmanager
def feature_extractor(model_dir, meta):
    """``fn(batch [n, 3, H, W] float32) -> [n, low_dim]`` L2-normalised embeddings of the converted model in
    ``model_dir`` (built once, restored from its checkpoint; NCHW convolutions on a GPU when one is visible)."""
    cfg = model_config(meta)
    gpu = bool(available_gpus())
    graph = tf.Graph()
    with graph.as_default():
        inputs = tf.placeholder(tf.float32, [None, 3, None, None], name="input")
        with tf.device("/gpu:0" if gpu else "/cpu:0"):
            features = embedding(tf.transpose(inputs, [0, 2, 3, 1]), False,
                                 dict(cfg, data_format="NCHW" if gpu else "NHWC"))
        saver = tf.train.Saver(tf.global_variables())
    config = tf.ConfigProto(allow_soft_placement=True)
    config.gpu_options.allow_growth = True
    with tf.Session(graph=graph, config=config) as sess:
        prefix = tf.train.latest_checkpoint(model_dir) or os.path.join(model_dir, CHECKPOINT)
        saver.restore(sess, prefix)
        yield lambda batch: sess.run(features, {inputs: batch})
