"""The fully supervised baseline: the trunk's logits layer trained on the dataset labels."""
from revisiting.losses import softmax_loss


def model_fn(data, is_training, net, cfg):
    """``data["image"]`` [B, H, W, 3], ``data["label"]`` [B] -> softmax cross-entropy over ``num_classes``."""
    logits = net(data["image"], is_training, num_classes=cfg["num_classes"])["logits"]
    return {"loss": softmax_loss(logits, data["label"]), "logits": logits, "labels": data["label"]}
