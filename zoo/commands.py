"""The zoo's command line: ``list``, ``convert RELEASE SRC --out DIR``, ``features DIR INPUT --out FEATS.npy``."""
from common import cli
from common.eval.report import markdown_table
from zoo import convert, features, registry

__all__ = ["LIST_HEADER", "list_table", "make_parser", "main"]

LIST_HEADER = ["release", "model", "file", "format", "reported", "protocol", "command"]


def list_table():
    """Markdown table of every published model of the known releases (one row per ``MODELS`` entry)."""
    rows = []
    for name, module in registry.releases().items():
        for model in module.MODELS:
            rows.append([name] + [model.get(key) for key in LIST_HEADER[1:]])
    return markdown_table(LIST_HEADER, rows)


def make_parser():
    """The ``python -m zoo`` parser (errors are one ``error:`` line, exit status 2)."""
    parser = cli.CliParser(prog="python -m zoo", description="the releases' published models in the project")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=cli.CliParser)
    sub.add_parser("list", help="the published models, their reported numbers and project commands")
    conv = sub.add_parser("convert", help="a published file, exactly as published -> a project checkpoint DIR")
    conv.add_argument("release", metavar="RELEASE")
    conv.add_argument("src", metavar="SRC", help="the published file or directory")
    conv.add_argument("--out", required=True, metavar="DIR", help="new or empty directory (or one of this model)")
    feats = sub.add_parser("features", help="the model's representation of images or of a .npy input tensor")
    feats.add_argument("model_dir", metavar="DIR", help="a directory written by zoo convert")
    feats.add_argument("input", metavar="INPUT", help="a folder of images or a float32 .npy network input")
    feats.add_argument("--out", required=True, metavar="FEATS.npy")
    feats.add_argument("--batch", type=int, default=64, help="images per forward pass (default 64)")
    return parser


def main(argv=None):
    """Run one zoo command; bad input raises ValueError (``cli.run`` prints it as one ``error:`` line)."""
    args = make_parser().parse_args(argv)
    if args.command == "list":
        print(list_table())
    elif args.command == "convert":
        convert.convert(args.release, args.src, args.out)
    else:
        features.extract(args.model_dir, args.input, args.out, args.batch)
    return 0
