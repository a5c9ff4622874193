"""Classify one image: print the top-k classes with names and probabilities, draw the image and a bar chart.

    python classification/predict.py IMAGE --checkpoint CKPT [--checkpoint CKPT2] [--topk 5] [--seam-carve]
        [--crops 1|10] [--out PNG]

A non-square image is made square by a centre crop (default) or by seam carving (``--seam-carve``), then
preprocessed as in validation (shorter side to ``resize_shorter``, centre crop, or 10 crops). Several
checkpoints average their softmax scores. The model, its input geometry and the class names come from the
``classifier.json`` that classification/train.py wrote next to the checkpoint.
"""
import argparse
import os
import sys

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from classification.crops import square_center_crop, test_views  # noqa: E402
from classification.predictor import Classifier, read_run_info, resolve_checkpoint  # noqa: E402
from classification.scores import average_crops, average_probabilities, topk_classes  # noqa: E402
from classification.seam_carving import carve_to_square  # noqa: E402


def build_parser():
    """IMAGE, repeatable ``--checkpoint``, ``--topk``, ``--seam-carve``, ``--crops``, ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", metavar="IMAGE", help="image file (any format OpenCV reads)")
    parser.add_argument("--checkpoint", action="append", required=True,
                        help="checkpoint prefix or log directory (repeat to average several models)")
    parser.add_argument("--topk", type=int, default=5, help="number of classes to print")
    parser.add_argument("--seam-carve", dest="seam_carve", action="store_true",
                        help="make a non-square image square by seam carving instead of a centre crop")
    parser.add_argument("--crops", type=int, choices=[1, 10], default=1, help="centre crop or 10 crops")
    parser.add_argument("--out", help="PNG to write (default: <image name>_prediction.png here)")
    return parser


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


def predict(image, info, models, topk=5, seam_carve=False, crops=1):
    """``(square image, [(class id, probability)] best first)`` for one RGB image."""
    if topk < 1 or topk > info["num_classes"]:
        raise ValueError("--topk %d: must be between 1 and the model's %d classes" % (topk, info["num_classes"]))
    square = carve_to_square(image) if seam_carve else square_center_crop(image)
    views = test_views(square, info["image_size"], info["resize_shorter"], crops, info["interpolation"])
    probs = average_probabilities([average_crops(m.probabilities(views), crops) for m in models])[0]
    return square, topk_classes(probs, topk)


def plot_prediction(square, top, class_names, out):
    """Write ``out``: the (squared) image next to a horizontal bar chart of the top-k probabilities."""
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(9, 4), gridspec_kw={"width_ratios": [1, 1.3]})
    ax_img.imshow(square)
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
    """Entry point; bad input is one ``error:`` line and exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        image = read_image(args.image)
        info, models = load_models(args.checkpoint)
        square, top = predict(image, info, models, args.topk, args.seam_carve, args.crops)
    except ValueError as e:
        parser.exit(2, "error: %s\n" % e)
    for rank, (c, p) in enumerate(top, 1):
        print("%d. %-24s %6.2f%%  (class %d)" % (rank, info["class_names"][c], 100 * p, c))
    out = args.out or os.path.splitext(os.path.basename(args.image))[0] + "_prediction.png"
    plot_prediction(square, top, info["class_names"], out)
    print("wrote %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
