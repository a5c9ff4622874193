"""faiss k-means over the bank, its settings, and the hand-off into the graph's cluster labels."""
import numpy as np
import pytest

from common.tf1 import tf
from local_aggregation.clustering import cluster_labels_variable, parse_kmeans_k, run_kmeans


def _blobs(rng, centres, per, noise=0.05):
    points = np.concatenate([c + noise * rng.randn(per, centres.shape[1]) for c in centres])
    return points.astype(np.float32), np.repeat(np.arange(len(centres)), per)


def _same_partition(a, b):
    pairs = {}
    for x, y in zip(a, b):
        if pairs.setdefault(x, y) != y:
            return False
    return len(set(pairs.values())) == len(pairs)


def test_kmeans_recovers_separated_blobs_and_labels_are_nearest_centroid():
    rng = np.random.RandomState(0)
    bank, truth = _blobs(rng, 3.0 * np.eye(8)[:5], per=60)
    labels = run_kmeans(bank, [5, 5])
    assert labels.shape == (2, 300) and labels.dtype == np.int64
    for row in labels:
        assert _same_partition(row, truth)
        centroids = np.stack([bank[row == c].mean(0) for c in range(5)])
        dist = ((bank[:, None] - centroids[None]) ** 2).sum(-1)
        np.testing.assert_array_equal(dist.argmin(1), row)


def test_kmeans_runs_are_seeded_per_run_and_reproducible():
    bank = np.random.RandomState(1).randn(400, 16).astype(np.float32)
    first, again = run_kmeans(bank, [7, 7, 9]), run_kmeans(bank, [7, 7, 9])
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[0], first[1])  # seeds 1234 and 1235 start differently
    assert first[2].max() == 8


def test_parse_kmeans_k_checks_range():
    assert parse_kmeans_k("30000,30000", 1281167) == [30000, 30000]
    with pytest.raises(ValueError, match="kmeans_k 200 .*data_len=160"):
        parse_kmeans_k("10,200", 160)
    with pytest.raises(ValueError, match="kmeans_k"):
        parse_kmeans_k("ten", 160)


def test_cluster_labels_variable_init_and_assign():
    with tf.Graph().as_default():
        with tf.variable_scope("tower1"):
            var = cluster_labels_variable(3, 6)
            again = cluster_labels_variable(3, 6)
        assert var is again and var.op.name == "instance/cluster_labels"
        assert var not in tf.trainable_variables()
        new = np.arange(18).reshape(3, 6) % 2
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            np.testing.assert_array_equal(sess.run(var), np.tile(np.arange(6), (3, 1)))
            sess.run(tf.assign(var, new))
            np.testing.assert_array_equal(sess.run(var), new)
