"""The settings of a paper made from the template, in the shape every paper has (docs/papers.md): ``SCRIPTS``
and ``parse_flags(script, argv=None) -> (args, cfg)`` over ``common.cli`` flag tables."""
from common import cli
from common.cli import Flag

__all__ = ["SCRIPTS", "FLAGS", "parse_flags"]

SCRIPTS = {"knn": "weighted kNN top-1 of raw pixels on a record directory (the template's release script)"}

FLAGS = {"knn": [
    Flag("data", None, "TFRecord directory (dataset_miscs/build_tfrs.py output)", type=str, required=True),
    Flag("size", 16, "side the images are resized to"),
    Flag("k", 20, "neighbours of the weighted kNN"),
]}


def parse_flags(script, argv=None):
    """``(args, cfg)`` of entry script ``script``: the resolved command line and its settings as a dict."""
    if script not in SCRIPTS:
        raise ValueError("unknown script %r of the template; known: %s" % (script, ", ".join(SCRIPTS)))
    table = FLAGS[script]
    args = cli.resolve(cli.make_parser(table, SCRIPTS[script], devices=False), table, argv)
    if args.size < 1 or args.k < 1:
        raise ValueError("--size and --k must be >= 1, got %d and %d" % (args.size, args.k))
    return args, {f.name: getattr(args, f.name) for f in table}
