"""Loading a trained classifier for inference: run info (model, classes, geometry, class names), checkpoint
lookup and compatibility checks, and a ``Classifier`` that maps uint8 crops to softmax probabilities.
"""
import json
import os

import numpy as np

from classification.crops import normalize
from classification.model import classifier_logits
from common import resume
from common.tf1 import tf

RUN_INFO = "classifier.json"
INFO_KEYS = ("model", "num_classes", "width", "image_size", "resize_shorter", "interpolation", "size_rounding", "mean",
             "std", "weight_decay")


def run_info(cfg, class_names):
    """What inference needs from a training config, plus the class names (from the records' meta.json)."""
    info = {k: cfg[k] for k in INFO_KEYS if k in cfg}
    if "grouped" in cfg:
        info["grouped"] = cfg["grouped"]
    info["class_names"] = list(class_names)
    return info


def write_run_info(logdir, info):
    """Store ``info`` as ``logdir/classifier.json`` (read back by predict.py)."""
    os.makedirs(logdir, exist_ok=True)
    with open(os.path.join(logdir, RUN_INFO), "w") as f:
        json.dump(info, f, indent=1)


def resolve_checkpoint(path):
    """A checkpoint prefix (``.../model-1234``) or a log directory (its newest checkpoint, past a damaged
    ``checkpoint`` file as ``common.resume.latest_checkpoint`` reads it); one-line errors."""
    if os.path.isdir(path):
        found = resume.latest_checkpoint(path, "--checkpoint")
        if found is None:
            raise ValueError("--checkpoint %s: the directory holds no checkpoint" % path)
        return found
    if not os.path.exists(path + ".index"):
        raise ValueError("--checkpoint %s: no such checkpoint (expected %s.index or a log directory)" % (path, path))
    return path


def read_run_info(checkpoint):
    """The ``classifier.json`` next to ``checkpoint``; ValueError when it is missing."""
    path = os.path.join(os.path.dirname(checkpoint), RUN_INFO)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError("--checkpoint %s: cannot read %s written by classification/train.py (%s)"
                         % (checkpoint, path, e))


def check_checkpoint(checkpoint, info, variables):
    """ValueError unless ``checkpoint`` holds every variable of ``variables`` with the same shape."""
    stored = dict(tf.train.list_variables(checkpoint))
    what = "a %s model with %d classes" % (info["model"], info["num_classes"])
    missing = [v.op.name for v in variables if v.op.name not in stored]
    if missing:
        raise ValueError("--checkpoint %s is not %s (%d of its variables are missing there, e.g. '%s')"
                         % (checkpoint, what, len(missing), missing[0]))
    for v in variables:
        if list(stored[v.op.name]) != v.shape.as_list():
            raise ValueError("--checkpoint %s does not fit %s: '%s' has shape %s there, %s here"
                             % (checkpoint, what, v.op.name, list(stored[v.op.name]), v.shape.as_list()))


class Classifier(object):
    """A model in its own graph and session; ``checkpoint=None`` keeps the random initialisation (seed 0)."""

    def __init__(self, info, checkpoint=None, data_format="NHWC"):
        self.info = info
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.set_random_seed(0)
            size = info["image_size"]
            self.images = tf.placeholder(tf.float32, [None, size, size, 3], name="input")
            self.prob = tf.nn.softmax(classifier_logits(self.images, info, False, data_format), name="prob")
            variables = tf.global_variables()
            if checkpoint is not None:
                check_checkpoint(checkpoint, info, variables)
            self.sess = tf.Session(config=tf.ConfigProto(allow_soft_placement=True))
            self.sess.run(tf.variables_initializer(variables))
            if checkpoint is not None:
                tf.train.Saver(variables).restore(self.sess, checkpoint)

    def probabilities(self, crops, batch_size=256):
        """Softmax ``[N, C]`` of uint8 crops ``[N, S, S, 3]`` (normalised with the run's mean/std)."""
        out = [self.sess.run(self.prob, {self.images: normalize(crops[i:i + batch_size], self.info["mean"],
                                                                   self.info["std"])})
               for i in range(0, len(crops), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.info["num_classes"]), np.float32)

    def close(self):
        """Release the session."""
        self.sess.close()
