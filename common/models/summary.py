"""Model summary: ``python -m common.models.summary NAME [--num-classes 1000] [--width 1] [--image-size 224]``.

Prints every endpoint with its shape and, as the last line, ``trainable parameters: N`` (BN gamma/beta counted,
moving statistics not). The graph is only built, never run.
"""
import argparse
import sys

import numpy as np

from common import cli
from common.tf1 import tf
from common.models.registry import get_model, list_models


def count_parameters(variables=None):
    """Number of scalars in ``variables`` (default: the trainable variables of the default graph)."""
    variables = tf.trainable_variables() if variables is None else variables
    return int(sum(np.prod(v.shape.as_list(), dtype=np.int64) for v in variables))


def summarize(name, num_classes=1000, width=1, image_size=224, data_format="NHWC", **options):
    """Build ``name`` (inference mode) in a fresh graph; return ([(endpoint, shape list)], trainable parameters)."""
    builder = get_model(name)
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, [1, image_size, image_size, 3], name="images")
        ends = builder(images, False, num_classes=num_classes or None, data_format=data_format, width=width,
                       **options)
        return [(k, v.shape.as_list()) for k, v in ends.items()], count_parameters()


def main(argv=None):
    """Command line entry point; bad input prints one ``error:`` line and returns 2."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="registered backbone: " + ", ".join(list_models()))
    parser.add_argument("--num-classes", type=int, default=1000, help="classifier size, 0 = no classifier")
    parser.add_argument("--width", type=float, default=1.0, help="width factor (see docs/models.md)")
    parser.add_argument("--image-size", type=int, default=224, help="input height = width in pixels")
    parser.add_argument("--data-format", default="NHWC", choices=["NHWC", "NCHW"])
    return cli.exit_status(lambda: _print_summary(parser.parse_args(argv)))


def _print_summary(args):
    """Print the endpoints and the parameter count; ValueError (one line) for bad flags."""
    if args.num_classes < 0 or args.image_size <= 0:
        raise ValueError("--num-classes must be >= 0 and --image-size > 0")
    from tensorpack.models.registry import disable_layer_logging
    disable_layer_logging()
    try:
        endpoints, n_params = summarize(args.name, args.num_classes, args.width, args.image_size, args.data_format)
    except ValueError as e:
        if "Negative dimension size" in str(e):  # TensorFlow's shape error of a too small input
            raise ValueError("--image-size %d is too small for %s" % (args.image_size, args.name))
        raise
    for key, shape in endpoints:
        print("%-18s %s" % (key, shape))
    print("trainable parameters: %d" % n_params)


if __name__ == "__main__":
    sys.exit(main())
