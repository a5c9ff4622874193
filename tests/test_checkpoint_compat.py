"""A checkpoint written before the learning-rate and memory-bank seams still resumes: the variable names, shapes
and dtypes that instance_disc/main.py saved then (tests/data/instance_disc_toy_checkpoint.json) are written
with known values, and today's script resumes from them."""
import json
import os

import numpy as np

from common.tf1 import tf
from instance_disc import main

SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "instance_disc_toy_checkpoint.json")


def _values(variables, rng):
    """Known values for every saved variable: unit bank rows, Z frozen at 5, the rate, step 1, He-scaled weights,
    unit BN scales and variances, zero momentum slots."""
    out = {}
    for name, (shape, dtype) in variables.items():
        if name == "instance/memory_bank":
            rows = rng.randn(*shape)
            value = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        elif name == "instance/nce_z":
            value = np.float32(5.0)
        elif name in ("global_step", "learning_rate"):
            value = 1 if name == "global_step" else 0.03
        elif dtype == "int64":
            value = rng.randint(0, 10, shape)
        elif name.endswith(("/gamma", "variance/EMA")):
            value = np.ones(shape)
        elif name.endswith("Momentum") or len(shape) < 2:
            value = np.zeros(shape)
        else:
            value = rng.randn(*shape) * np.sqrt(2.0 / np.prod(shape[:-1]))
        out[name] = np.asarray(value, dtype=dtype)
    return out


def test_instance_disc_resumes_a_checkpoint_of_the_earlier_code(toy_record_dir, tmp_path):
    spec = json.load(open(SPEC))
    written = _values(spec["variables"], np.random.RandomState(0))
    logdir = str(tmp_path / "run")
    with tf.Graph().as_default(), tf.Session() as sess:
        variables = [tf.Variable(value, name=name) for name, value in written.items()]
        sess.run(tf.variables_initializer(variables))
        tf.train.Saver(variables).save(sess, os.path.join(logdir, "model"), global_step=1)
    with tf.Graph().as_default():
        main.main([toy_record_dir] + spec["flags"] + ["--epochs", "2", "--logdir", logdir])
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(logdir))
    assert reader.get_tensor("global_step") == 2 and reader.get_tensor("instance/nce_z") == 5.0
    bank = reader.get_tensor("instance/memory_bank")
    moved = np.any(bank != written["instance/memory_bank"], axis=1)
    assert moved.sum() == 16  # one step of batch 16 moved its rows; every other row is the restored one
    assert set(spec["variables"]) == set(name for name, _ in tf.train.list_variables(tf.train.latest_checkpoint(logdir)))
