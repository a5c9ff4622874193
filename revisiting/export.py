"""The exported trunk (the release's TF-Hub module, as a TF1 SavedModel): signatures ``default`` (image ->
trunk output) and ``representation`` (image -> every endpoint), inference-mode BN, variables under ``module/``.

``<export_dir>/module.json`` records how to rebuild the trunk (architecture flags and the logits size), so
that linear evaluation can build it in its own graph and restore ``<export_dir>/variables/variables``.
"""
import json
import os
import time

from common import seeding
from common.data.fsutil import read_json
from common.tf1 import tf
from revisiting.net import get_net

MODULE_FILE = "module.json"
NET_KEYS = ("architecture", "filters_factor", "mode", "last_relu", "task")


def trunk_classes(cfg):
    """Size of the trunk's logits layer for the task (the module's ``default`` output)."""
    task = cfg["task"]
    if task == "rotation":
        return 4
    if task == "supervised":
        return int(cfg["num_classes"])
    return int(cfg["embed_dim"])


def parse_shape(text):
    """``"None,224,224,3"`` -> [None, 224, 224, 3]."""
    dims = [d.strip() for d in str(text).split(",")]
    try:
        shape = [None if d.lower() == "none" else int(d) for d in dims]
    except ValueError:
        shape = []
    if len(shape) != 4 or shape[3] != 3:
        raise ValueError("serving_input_shape=%r: expected 'N,H,W,3' with None for unknown sizes" % text)
    return shape


def module_net(spec):
    """``net`` of a module spec (the dict of ``module.json``)."""
    return get_net(**{k: spec[k] for k in NET_KEYS})


def export_module(checkpoint, export_dir, cfg):
    """Write the trunk of ``checkpoint`` (None: a random initialisation, the baseline) as a SavedModel (tag
    ``serve``) into ``export_dir``; returns it."""
    spec = {k: cfg.get(k) for k in NET_KEYS}
    spec.update(num_classes=trunk_classes(cfg), input_shape=parse_shape(cfg.get("serving_input_shape")))
    with tf.Graph().as_default():
        seeding.seed_graph()  # --seed: the random-initialisation baseline too
        image = tf.placeholder(tf.float32, spec["input_shape"], name="image")
        ends = module_net(spec)(image, False, num_classes=spec["num_classes"])
        with tf.Session() as sess:
            if checkpoint is None:
                sess.run(tf.global_variables_initializer())
            else:
                tf.train.Saver(tf.global_variables()).restore(sess, checkpoint)
            inputs = {"image": tf.saved_model.utils.build_tensor_info(image)}
            signatures = {
                "default": tf.saved_model.signature_def_utils.build_signature_def(
                    inputs, {"default": tf.saved_model.utils.build_tensor_info(ends["logits"])},
                    tf.saved_model.signature_constants.PREDICT_METHOD_NAME),
                "representation": tf.saved_model.signature_def_utils.build_signature_def(
                    inputs, {k: tf.saved_model.utils.build_tensor_info(v) for k, v in ends.items()},
                    tf.saved_model.signature_constants.PREDICT_METHOD_NAME),
            }
            builder = tf.saved_model.builder.SavedModelBuilder(export_dir)
            builder.add_meta_graph_and_variables(sess, [tf.saved_model.tag_constants.SERVING],
                                                 signature_def_map=signatures)
            builder.save()
    with open(os.path.join(export_dir, MODULE_FILE), "w") as f:
        json.dump(spec, f, indent=2)
    return export_dir


def export_path(workdir):
    """``<workdir>/export/hub/<timestamp>/module`` as in the release."""
    return os.path.join(workdir, "export", "hub", str(int(time.time())), "module")


def read_module_spec(module_dir):
    """The dict of ``<module_dir>/module.json``; a missing or broken file is a one-line ValueError."""
    return read_json(os.path.join(module_dir, MODULE_FILE),
                     "--hub_module %s: not an exported module (%s: " % (module_dir, MODULE_FILE), ")")
