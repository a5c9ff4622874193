"""The pretext losses: softmax cross-entropy and TF-contrib's semi-hard triplet loss (written without contrib)."""
from common.tf1 import tf


def softmax_loss(logits, labels):
    """Mean sparse softmax cross-entropy."""
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))


def triplet_semihard_loss(labels, embeddings, margin):
    """Semi-hard triplet loss on squared Euclidean distances (the definition of contrib's metric_learning module).

    For every anchor-positive pair (a, p), a != p: the negative is the closest one farther than the
    positive, or the farthest negative if none is; loss = sum of max(0, margin + d_ap - d_an) / #pairs.
    """
    labels = tf.reshape(labels, [-1])
    sq = tf.reduce_sum(tf.square(embeddings), axis=1)
    dist = tf.maximum(sq[:, None] + sq[None, :] - 2.0 * tf.matmul(embeddings, embeddings, transpose_b=True), 0.0)
    size = tf.shape(labels)[0]
    dist = tf.matrix_set_diag(dist, tf.zeros([size]))
    same = tf.equal(labels[:, None], labels[None, :])
    negative = tf.logical_not(same)
    # Per anchor: distances to its negatives in ascending order, the positives pushed past the end.
    beyond = tf.fill(tf.shape(dist), tf.reduce_max(dist) + 1.0)
    sorted_neg = tf.sort(tf.where(negative, dist, beyond), axis=1)
    num_neg = tf.reduce_sum(tf.cast(negative, tf.int32), axis=1)[:, None]
    first_farther = tf.searchsorted(sorted_neg, dist, side="right")  # [a, p]: first negative with d_an > d_ap
    farthest = tf.tile(tf.maximum(num_neg - 1, 0), [1, size])
    chosen = tf.batch_gather(sorted_neg, tf.where(first_farther < num_neg, first_farther, farthest))
    positive = tf.cast(same, tf.float32) - tf.eye(size)
    losses = tf.maximum(margin + dist - chosen, 0.0) * positive
    return tf.reduce_sum(losses) / tf.reduce_sum(positive)
