"""``python -m bench.step --step rotation --model revnet50 --batch 64``: one rotation training step (the batch is
expanded to its 4 rotations, so the trunk sees 4 x batch images per step: multiply the table's img/s by 4)."""
from common.models import get_model, regularization_loss
from revisiting.preprocess import get_preprocess_fn
from revisiting.rotation import model_fn


def rotation_step(images, labels, args):
    """Rotation loss + L2 (1e-4) on the backbone ``args.model`` (width 1 = the release's filters_factor 4)."""
    data = get_preprocess_fn("rotate", True)({"image": images, "label": labels})
    builder = get_model(args.model)

    def net(x, is_training, num_classes=None):
        return builder(x, is_training, num_classes=num_classes, data_format=args.data_format, weight_decay=1e-4)
    return model_fn(data, True, net, {})["loss"] + regularization_loss()


STEPS = {"rotation": rotation_step}  # read by bench.step through papers.py
