"""Classify one image as the release's test_single_image.py: print the top 10 classes with names and
probabilities, draw the image and a bar chart.

    python classification/predict.py IMAGE --checkpoint CKPT [--checkpoint CKPT2] [--topk 10] [--seam-carve]
        [--crops 10|1] [--out PNG]

The image is preprocessed as in testing: shorter side to ``resize_shorter``, then the 10 crops (or the centre
crop); ``--seam-carve`` adds the seam-carved mirrored image as an 11th view. The views' softmax scores are
averaged, then those of several checkpoints. The model, its input geometry and the class names come from the
``classifier.json`` that classification/train.py wrote next to the checkpoint.
"""
import os

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from classification.eval_data import image_views  # noqa: E402
from classification.flags import parse_flags  # noqa: E402
from classification.predictor import Classifier, read_run_info, resolve_checkpoint  # noqa: E402
from classification.recipe import EvalView  # noqa: E402
from classification.scores import average_probabilities, topk_classes  # noqa: E402
from common import cli  # noqa: E402


def read_image(path):
    """RGB uint8 image of ``path``; ValueError naming the file when it is missing or not an image."""
    if not os.path.isfile(path):
        raise ValueError("%s: no such file" % path)
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("%s is not an image file OpenCV can read" % path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_models(checkpoints):
    """``(run info, [Classifier])`` for the checkpoints; they must share the classes."""
    paths = [resolve_checkpoint(c) for c in checkpoints]
    infos = [read_run_info(p) for p in paths]
    for p, info in zip(paths[1:], infos[1:]):
        if info["class_names"] != infos[0]["class_names"]:
            raise ValueError("--checkpoint %s has other classes than %s: cannot average them" % (p, paths[0]))
    return infos[0], [Classifier(info, p) for info, p in zip(infos, paths)]


def predict(image, info, models, topk=None, seam_carve=False, crops=10):
    """``[(class id, probability)]`` of the ``topk`` (default: min(10, classes)) best classes of one RGB image."""
    topk = min(10, info["num_classes"]) if topk is None else topk
    if topk < 1 or topk > info["num_classes"]:
        raise ValueError("--topk %d: must be between 1 and the model's %d classes" % (topk, info["num_classes"]))
    if seam_carve and crops != 10:
        raise ValueError("--seam-carve adds an 11th view to the 10 crops: it needs --crops 10")
    views = image_views(image, EvalView.from_config(info), crops, seam_carve)
    probs = average_probabilities([m.probabilities(views).mean(axis=0, keepdims=True) for m in models])[0]
    return topk_classes(probs, topk)


def plot_prediction(image, top, class_names, out):
    """Write ``out``: the image next to a horizontal bar chart of the top-k probabilities."""
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(9, 4), gridspec_kw={"width_ratios": [1, 1.3]})
    ax_img.imshow(image)
    ax_img.axis("off")
    names = [class_names[c] for c, _ in top][::-1]
    values = [100 * p for _, p in top][::-1]
    ax_bar.barh(range(len(top)), values, color="tab:blue")
    ax_bar.set_yticks(range(len(top)))
    ax_bar.set_yticklabels(names)
    ax_bar.set_xlim(0, 100)
    ax_bar.set_xlabel("probability (%)")
    ax_bar.set_title("top-%d" % len(top))
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None):
    """Entry point (``cli.run(main)``: bad input is one ``error:`` line and exit status 2)."""
    args, cfg = parse_flags("predict", argv)
    image = read_image(args.image)
    info, models = load_models(args.checkpoint)
    top = predict(image, info, models, args.topk, args.seam_carve, args.crops)
    for rank, (c, p) in enumerate(top, 1):
        print("%d. %-24s %6.2f%%  (class %d)" % (rank, info["class_names"][c], 100 * p, c))
    out = args.out or os.path.splitext(os.path.basename(args.image))[0] + "_prediction.png"
    plot_prediction(image, top, info["class_names"], out)
    print("wrote %s" % out)
    return 0


if __name__ == "__main__":
    cli.run(main)
