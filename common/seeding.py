"""``--seed N``: one process-wide seed that makes a run repeatable (see docs/training.md, "Repeatable runs").

``set_seed(n)`` (called by ``common.cli.resolve`` for ``--seed``, by the demo for its toy runs) seeds Python's and
numpy's generators; every graph that trains or evaluates calls ``seed_graph()`` (``common.train.launch_train``, the evaluation helpers), which
sets the graph-level seed, so initialisation, noise draws and tf.data shuffles and augmentation get fixed op seeds;
``common.data.input.make_dataset`` passes it to both readers (DALI's pipeline seed); ``derived(offset)`` gives
other consumers (k-means runs) their own seed. Without ``set_seed`` nothing is seeded, as in the releases.
A seeded run also asks for cuDNN's deterministic algorithms (``TF_CUDNN_DETERMINISTIC=1``, honoured by TF 1.14+ and
2.x before the first convolution runs). TensorFlow's process-wide deterministic ops (``enable_op_determinism``, TF >=
2.9) are not turned on: TF then refuses any random op of a graph without a seed, and not every graph of the releases'
tools is built here.
"""
import os
import random

import numpy as np

from common.tf1 import tf

__all__ = ["set_seed", "current", "derived", "seed_graph"]

_STATE = {"seed": None}


def set_seed(seed):
    """Make ``seed`` (an int >= 0) the process's seed and seed Python's and numpy's generators; None: unseeded."""
    if seed is not None and int(seed) < 0:
        raise ValueError("--seed %d: must be >= 0" % seed)
    _STATE["seed"] = None if seed is None else int(seed)
    if seed is not None:
        os.environ.setdefault("TF_CUDNN_DETERMINISTIC", "1")  # deterministic cuDNN algorithms on GPUs
        random.seed(int(seed))
        np.random.seed(int(seed))


def current():
    """The process's seed, or None when the run is not seeded."""
    return _STATE["seed"]


def derived(offset):
    """``seed + offset`` for a consumer that needs its own seed, or None when the run is not seeded."""
    return None if _STATE["seed"] is None else _STATE["seed"] + int(offset)


def seed_graph():
    """Set the default graph's seed to the process's seed (nothing when the run is not seeded)."""
    if _STATE["seed"] is not None:
        tf.set_random_seed(_STATE["seed"])
