"""The one place that imports TensorFlow: TF1 graph mode on TF 1.15 and on TF 2.x (via tf.compat.v1).

Every module of the project does ``from common.tf1 import tf``.
"""
import os

# tf.compat.v1.layers and TensorPack need Keras 2 (the tf-keras package) on TF >= 2.16.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Idle OpenMP threads must not spin: faiss (k-means, kNN) next to TensorFlow's thread pools was ~50x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()
tf.logging.set_verbosity(tf.logging.ERROR)

__all__ = ["tf"]
