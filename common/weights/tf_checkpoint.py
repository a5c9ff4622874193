"""TF1 checkpoints (V2 format, readable by ``tf.train.Saver``) holding exactly given {name: ndarray} variables."""
import os

import numpy as np

from common.tf1 import tf

__all__ = ["write_checkpoint", "read_checkpoint", "check_covers_graph"]


def write_checkpoint(arrays, prefix, write_state=True):
    """Write ``arrays`` ({variable name: ndarray}) as the TF1 checkpoint ``prefix`` (``prefix.index`` and
    ``prefix.data-*``), each under its own name and dtype; ``write_state`` also writes the directory's
    ``checkpoint`` file pointing at it, as ``Saver.save`` does. Returns ``prefix``."""
    if not arrays:
        raise ValueError("write_checkpoint: no variables to write to %s" % prefix)
    names = sorted(arrays)
    for name in names:
        if not name or name.endswith(":0") or name.startswith("/"):
            raise ValueError("write_checkpoint: %r is not a variable name" % name)
    values = [np.require(arrays[n], requirements="C") for n in names]  # ascontiguousarray made scalars [1]
    directory = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(directory, exist_ok=True)
    with tf.Graph().as_default():
        feeds = [tf.placeholder(tf.as_dtype(v.dtype), v.shape) for v in values]
        save = tf.raw_ops.SaveV2(prefix=tf.constant(prefix), tensor_names=tf.constant(names),
                                 shape_and_slices=tf.constant([""] * len(names)), tensors=feeds)
        with tf.Session(config=tf.ConfigProto(device_count={"GPU": 0})) as sess:
            sess.run(save, dict(zip(feeds, values)))
    if write_state:
        base = os.path.basename(prefix)
        with open(os.path.join(directory, "checkpoint"), "w") as f:
            f.write('model_checkpoint_path: "%s"\nall_model_checkpoint_paths: "%s"\n' % (base, base))
    return prefix


def read_checkpoint(prefix):
    """{variable name: ndarray} of every variable in the TF1 checkpoint ``prefix``."""
    try:
        reader = tf.train.NewCheckpointReader(prefix)
    except Exception as e:  # TF raises its own NotFoundError / DataLossError kinds
        raise ValueError("%s: not a readable TF checkpoint (%s)" % (prefix, str(e).strip().splitlines()[0]))
    return {name: reader.get_tensor(name) for name in sorted(reader.get_variable_to_shape_map())}


def _name_and_shape(var):
    if isinstance(var, (tuple, list)):
        return var[0], tuple(int(d) for d in var[1])
    return var.op.name, tuple(var.shape.as_list())


def check_covers_graph(arrays, graph_vars):
    """Check that every variable of ``graph_vars`` (``tf.Variable``s of a built project graph, or
    ``(name, shape)`` pairs) is in ``arrays`` with its shape; a ValueError naming the first missing or
    mismatched one."""
    for var in graph_vars:
        name, shape = _name_and_shape(var)
        if name not in arrays:
            raise ValueError("project variable %s %s is not in the converted weights" % (name, list(shape)))
        got = tuple(np.shape(arrays[name]))
        if got != shape:
            raise ValueError("project variable %s has shape %s, the converted weights have %s"
                             % (name, list(shape), list(got)))
