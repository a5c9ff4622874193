"""Jigsaw puzzles (Noroozi & Favaro 2016): which of a fixed set of patch permutations was applied.

The release downloads ``permutations_100_max.bin``; ``make_permutations`` regenerates such a set with the
greedy maximal-Hamming-distance algorithm and ``save_permutations``/``load_permutations`` keep its format
(int32 header (count, length), then 1-based int32 values).
"""
import itertools
import os

import numpy as np

from common.tf1 import tf
from revisiting.losses import softmax_loss
from revisiting.patch_utils import fully_connected, patch_embeddings, permute_and_concat

PERMUTATIONS_FILE = "permutations_100_max.bin"


def make_permutations(n=100, length=9, seed=0):
    """``n`` permutations of ``range(length)`` [n, length] int32, each maximising its minimum Hamming distance
    to those chosen before it (first one and ties drawn with ``seed``)."""
    candidates = np.array(list(itertools.permutations(range(length))), np.int8)
    if not 1 <= n <= len(candidates):
        raise ValueError("make_permutations: n=%d must be in [1, %d] for length %d" % (n, len(candidates), length))
    rng = np.random.RandomState(seed)
    min_dist = np.full(len(candidates), length + 1, np.int64)
    chosen = []
    index = rng.randint(len(candidates))
    for _ in range(n):
        chosen.append(index)
        min_dist = np.minimum(min_dist, (candidates != candidates[index]).sum(axis=1))
        best = np.flatnonzero(min_dist == min_dist.max())
        index = best[rng.randint(len(best))]
    return candidates[chosen].astype(np.int32)


def save_permutations(path, perms):
    """Write ``perms`` [n, length] (0-based) in the release's binary format."""
    perms = np.asarray(perms, np.int32)
    with open(path, "wb") as f:
        np.array(perms.shape, "<i4").tofile(f)
        (perms + 1).astype("<i4").tofile(f)


def load_permutations(path):
    """Read a permutation file of the release's format -> [n, length] int32, 0-based; bad files raise ValueError."""
    if not os.path.isfile(path):
        raise ValueError("permutation file not found: %s" % path)
    raw = np.fromfile(path, "<i4")
    if raw.size < 2 or raw.size != 2 + raw[0] * raw[1]:
        raise ValueError("permutation file %s: expected an int32 header (count, length) and count*length values"
                         % path)
    perms = raw[2:].reshape(raw[0], raw[1]) - 1
    if np.any(np.sort(perms, axis=1) != np.arange(raw[1])):
        raise ValueError("permutation file %s: rows are not permutations of 1..%d" % (path, raw[1]))
    return perms.astype(np.int32)


def ensure_permutations(path, n=100, length=9):
    """Load the permutation file at ``path``, writing a regenerated max-Hamming set there first if it is missing."""
    if not os.path.exists(path):
        save_permutations(path, make_permutations(n, length))
    return load_permutations(path)


def model_fn(data, is_training, net, cfg):
    """Training: one random subset of ``perm_subset_size`` permutations per step, applied to every image;
    evaluation: all permutations. Labels are the permutation indices (image-major)."""
    perms = load_permutations(cfg["permutations_file"])
    embeddings = patch_embeddings(data, is_training, net, cfg["embed_dim"])
    if embeddings.shape.as_list()[1] != perms.shape[1]:
        raise ValueError("jigsaw: %d patches per image but permutations of length %d in %s"
                         % (embeddings.shape.as_list()[1], perms.shape[1], cfg["permutations_file"]))
    index = tf.range(len(perms))
    if is_training:
        index = tf.random_shuffle(index)[:cfg.get("perm_subset_size", 8)]
    features = permute_and_concat(embeddings, tf.gather(tf.constant(perms), index))
    labels = tf.tile(tf.cast(index, tf.int64), [tf.shape(embeddings)[0]])
    logits = fully_connected(features, len(perms), is_training, hidden=cfg.get("head_hidden", 4096))
    return {"loss": softmax_loss(logits, labels), "logits": logits, "labels": labels}
