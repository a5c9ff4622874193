"""Relative patch location (Doersch et al. 2015): which of the 8 neighbours of the centre patch is shown."""
import numpy as np

from common.tf1 import tf
from revisiting.losses import softmax_loss
from revisiting.patch_utils import fully_connected, patch_embeddings, permute_and_concat

CENTER = 4
PAIRS = np.array([(i, CENTER) for i in range(9) if i != CENTER], np.int32)  # label j = pair j


def model_fn(data, is_training, net, cfg):
    """9 patches per image -> 8 (neighbour, centre) pairs per image, labels tile(0..7, B)."""
    embeddings = patch_embeddings(data, is_training, net, cfg["embed_dim"])
    if embeddings.shape.as_list()[1] != 9:
        raise ValueError("relative_patch_location needs a 3x3 grid of patches (splits_per_side=3)")
    features = permute_and_concat(embeddings, tf.constant(PAIRS))
    labels = tf.tile(tf.range(len(PAIRS), dtype=tf.int64), [tf.shape(embeddings)[0]])
    logits = fully_connected(features, len(PAIRS), is_training, hidden=cfg.get("head_hidden", 4096))
    return {"loss": softmax_loss(logits, labels), "logits": logits, "labels": labels}
