"""Exemplar CNN (Dosovitskiy et al. 2014) as in the release: semi-hard triplet loss over the copies of each image."""
from common.tf1 import tf
from revisiting.losses import triplet_semihard_loss


def model_fn(data, is_training, net, cfg):
    """``data["image"]`` [B, copies, H, W, 3] -> semi-hard triplet loss with labels repeat(range(B), copies)."""
    images = data["image"]
    copies = cfg["num_of_inception_patches"]
    if images.shape.ndims != 5 or images.shape.as_list()[1] != copies:
        raise ValueError("exemplar: images %s do not hold num_of_inception_patches=%d copies per image"
                         % (images.shape, copies))
    flat = tf.reshape(images, [-1] + images.shape.as_list()[2:])
    embeddings = tf.reshape(net(flat, is_training, num_classes=cfg["embed_dim"])["logits"], [-1, cfg["embed_dim"]])
    embeddings = tf.nn.l2_normalize(embeddings, axis=cfg.get("exemplar_l2_axis", 0))
    labels = tf.reshape(tf.tile(tf.range(tf.shape(images)[0])[:, None], [1, copies]), [-1])
    return {"loss": triplet_semihard_loss(labels, embeddings, cfg["margin"]), "embeddings": embeddings,
            "labels": labels}
