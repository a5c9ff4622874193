"""``python -m bench.step --step local_aggregation --model resnet18 --batch 128``: one Local Aggregation step.

ImageNet-shaped: a ``--bank-size`` x 128 memory bank (default 1,281,167) and 10 k-means label rows (the
release's ``res18_LA``), 4096 background neighbours (top-k of the whole bank), T 0.07, the bank update
chained into the step; ``--model`` is the release's ``model_type`` (resnet18, resnet50, ...).
"""
from tensorpack.tfutils.tower import TowerContext

from common.memory_bank import update_from_towers
from common.tf1 import tf
from local_aggregation.model import LocalAggregationModel

__all__ = ["la_step", "STEPS"]

NUM_KMEANS = 10
BACKGROUND_K = 4096


def la_step(images, labels, args):
    """LA loss of ``images`` against the ``args.bank_size``-row bank, with the momentum update of the batch rows."""
    model = LocalAggregationModel("LA", args.model, args.image_size, args.bank_size,
                          instance_k=min(BACKGROUND_K, args.bank_size), num_kmeans=NUM_KMEANS,
                          data_format=args.data_format)
    indices = tf.random_uniform([args.batch], 0, args.bank_size, dtype=tf.int64)
    with TowerContext("", is_training=True):
        rows = model.build_graph(images, labels, indices)
    with tf.control_dependencies([update_from_towers([rows])]):
        return tf.identity(rows.cost)


STEPS = {"local_aggregation": la_step}  # read by bench.step through papers.py
