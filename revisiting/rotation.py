"""Rotation prediction (Gidaris et al. 2018): 4-way classification of 0/90/180/270 degree rotations."""
from common.tf1 import tf
from revisiting.losses import softmax_loss

NUM_ROTATIONS = 4


def model_fn(data, is_training, net, cfg):
    """``data["image"]`` [B, 4, H, W, 3] from the ``rotate`` op -> loss over the 4B rotated images."""
    images = data["image"]
    if images.shape.ndims != 5 or images.shape.as_list()[1] != NUM_ROTATIONS:
        raise ValueError("rotation needs images [B, 4, H, W, 3]: end the preprocessing string with 'rotate'")
    images = tf.reshape(images, [-1] + images.shape.as_list()[2:])
    labels = tf.reshape(data["label"], [-1])
    logits = net(images, is_training, num_classes=NUM_ROTATIONS)["logits"]
    return {"loss": softmax_loss(logits, labels), "logits": logits, "labels": labels}
