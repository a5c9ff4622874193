"""One command-line layer for every training script: a release's flag table becomes a parser.

    FLAGS = [Flag("lr", 0.03, "initial learning rate", names=("--lr", "--learning-rate")),
             Flag("data_format", "NHWC", "config-only setting", flag=False), ...]

    def main(argv=None):
        parser = cli.make_parser(FLAGS, __doc__, config_default="exp_configs/x.json:toy")
        parser.add_argument("data")                      # a script may add its own arguments
        args = cli.resolve(parser, FLAGS, argv)          # a Namespace: every flag, device and launch flag
        ...

    if __name__ == "__main__":
        cli.run(main)

Precedence, everywhere: an explicit flag > ``--set NAME=VALUE`` > the ``--config FILE.json:KEY`` value > the
table's default. Every key of the config must be a name of the table (else one error line listing the valid
ones); ``section="counter"`` reads a config whose phase-specific values sit in ``cfg["counter"]`` (``sections``
names all such phase objects; the others are skipped). Boolean flags take ``--flag``, ``--flag True/False``
and ``--noflag`` (absl style). Every parser has ``--config``, ``--set``, ``--logdir``, ``--seed`` (``common.seeding``)
and the device flags of
``common.devices``; ``run(main)`` turns a ``ValueError`` (``ConfigError`` included) into ``error: ...`` on one
line and exit status 2, a divergence or an unwritable path into one line and exit status 1.
"""
import argparse
import collections
import sys

from common.config import ConfigError, apply_overrides, load_config, parse_value_like
from common import seeding
from common.devices import add_device_args
from common.value_checks import problem

__all__ = ["Flag", "CliParser", "make_parser", "resolve", "parse_bool", "run", "exit_status", "fail", "one_line"]


class Flag(collections.namedtuple("Flag", "name default help names type choices required flag")):
    """One setting: ``name`` (config key and dest), ``default``, ``help``; ``names`` its spellings
    (default ``--name``), ``type`` (default: the default's type), ``choices``, ``required`` (must come from the
    command line or the config), ``flag=False`` for a config-only setting without a command-line flag."""

    def __new__(cls, name, default=None, help="", names=None, type=None, choices=None, required=False, flag=True):
        kind = type if type is not None else (builtin_type(default) if default is not None else None)
        return super(Flag, cls).__new__(cls, name, default, help, tuple(names or ("--" + name,)), kind, choices,
                                        required, flag)


builtin_type = type  # ``Flag.__new__`` shadows the builtin with its ``type`` argument


_TF_FRAME = ("Graph execution error", "Detected at node", "Node:", "[[", "File ", "Traceback")


def one_line(error):
    """The first line of an exception's message (``path: reason`` for an ``OSError`` naming a file); for a
    TensorFlow op error, the line that says its cause (not ``Graph execution error:`` and the op's stack)."""
    if isinstance(error, OSError) and error.filename and error.strerror:
        return "%s: %s" % (error.filename, error.strerror)
    lines = [line.strip() for line in str(getattr(error, "message", None) or error).strip().splitlines()]
    start = next((k for k, line in enumerate(lines) if line.startswith(_TF_FRAME[0])), None)
    if start is not None:
        causes = [line for line in lines[start + 1:] if line and not line.startswith(_TF_FRAME)
                  and not line.startswith(("(", "Function call stack"))]
        lines = causes[-1:] or lines
    return (lines or [type(error).__name__])[0]


def fail(message):
    """Print ``error: message`` (its first line) to stderr and exit with status 2."""
    sys.stderr.write("error: %s\n" % (str(message).splitlines() or [""])[0])
    sys.exit(2)


class CliParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one ``error: ...`` line and exit status 2."""

    def error(self, message):
        fail(message)


def parse_bool(text):
    """``True/true/1/yes/on`` -> True, ``False/false/0/no/off`` -> False; else ``argparse.ArgumentTypeError``."""
    try:
        return parse_value_like(text, True)
    except ConfigError:
        raise argparse.ArgumentTypeError("expected True or False, got %r" % text)


def make_parser(flags, description=None, config_default=None, devices=True):
    """A ``CliParser`` with ``flags`` (those with ``flag=True``), ``--config``, ``--set``, ``--logdir`` and,
    ``devices``, the device flags. Flag values not given on the command line are left out of the parse."""
    parser = CliParser(description=(description or "").strip().split("\n")[0] or None)
    parser.add_argument("--config", default=config_default, help="experiment config as FILE.json:KEY")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="override one setting (repeatable; a.b=v inside a nested object)")
    parser.add_argument("--logdir", default=None, help="checkpoints, stats.json, TensorBoard events; resumed")
    parser.add_argument("--seed", type=int, default=None,
                        help="N >= 0: a repeatable run (graph seed, initialisation, data order and augmentation, "
                             "noise draws, k-means); default: unseeded, as the releases")
    for f in flags:
        if not f.flag:
            continue
        shown = "required" if f.required else f.default
        text = "%s (default: %s)" % (f.help, shown)
        if f.type is bool:
            parser.add_argument(*f.names, dest=f.name, nargs="?", const=True, type=parse_bool,
                                default=argparse.SUPPRESS, help=text)
            parser.add_argument("--no" + f.names[0][2:], dest=f.name, action="store_const", const=False,
                                default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        else:
            parser.add_argument(*f.names, dest=f.name, type=f.type, choices=f.choices,
                                default=argparse.SUPPRESS, help=text)
    if devices:
        add_device_args(parser)
    return parser


def _cast(flag, value, source):
    """``value`` from a config, checked against ``flag``'s type (an int is a valid float; numbers a valid str)."""
    kind = flag.type
    if value is None or kind is None:
        return value
    ok = {bool: lambda v: isinstance(v, bool),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          str: lambda v: isinstance(v, (str, int, float)) and not isinstance(v, bool)}.get(kind, None)
    if ok is None:
        ok = lambda v: isinstance(v, kind)  # noqa: E731  (list, dict)
    if not ok(value):
        raise ConfigError("%s: %s must be %s, got %r" % (source, flag.name, kind.__name__, value))
    value = kind(value)
    if flag.choices and value not in flag.choices:
        raise ConfigError("%s: %s must be one of %s, got %r"
                          % (source, flag.name, ", ".join(map(str, flag.choices)), value))
    return value


def _phase(override):
    """``"counter"`` for ``"counter.epoch=5"``: the nested object an override names, None for a top-level one."""
    name = override.split("=", 1)[0]
    return name.split(".", 1)[0] if "." in name else None


def _config_values(spec, overrides, section, sections):
    """The config's values with ``section``'s object (its ``--set`` applied) merged on top of the shared ones;
    returns them and the overrides left for the merged settings. Overrides of another phase's object are only
    checked against it."""
    if not spec:
        return {}, list(overrides)
    raw = load_config(spec)
    mine = [o for o in overrides if section and _phase(o) == section]
    other = [o for o in overrides if _phase(o) in sections and _phase(o) != section]
    raw = apply_overrides(raw, other, spec)
    values = {k: v for k, v in raw.items() if k not in sections}
    if section:
        values.update(apply_overrides(dict(raw.get(section) or {}), [o[len(section) + 1:] for o in mine],
                                      "%s %s" % (spec, section)))
    return values, [o for o in overrides if o not in mine and o not in other]


def resolve(parser, flags, argv=None, section=None, sections=()):
    """Parse ``argv`` with ``parser`` (from ``make_parser``) and merge the config; returns a Namespace holding
    every flag of ``flags`` (explicit flag > ``--set`` > config > default) and the parser's other arguments.
    Bad input raises ``ConfigError`` (one line naming the file, key or flag)."""
    args = parser.parse_args(argv)
    given = set(vars(args))
    table = collections.OrderedDict((f.name, f) for f in flags)
    spec = args.config
    values, rest = _config_values(spec, args.overrides, section, tuple(sections))
    unknown = [k for k in values if k not in table]
    if unknown:
        raise ConfigError("config %s: unknown key %r; valid keys: %s" % (spec, unknown[0], ", ".join(table)))
    source = "config %s" % spec
    merged = {name: _cast(table[name], value, source) for name, value in values.items()}
    for name, f in table.items():
        merged.setdefault(name, f.default)
    merged = apply_overrides(merged, rest, spec or "the command line")
    for name, value in list(merged.items()):
        merged[name] = _cast(table[name], value, "--set") if name in table else value
    for name in table:
        if hasattr(args, name):
            merged[name] = getattr(args, name)
    for f in flags:
        if f.required and merged[f.name] in (None, ""):
            raise ConfigError("%s is required (on the command line or as a config key)" % f.names[0])
    for name, value in merged.items():
        setattr(args, name, value)
    _check_values(args, table, given, source)
    if args.seed is not None:
        seeding.set_seed(args.seed)
    return args


def _check_values(args, table, given, source):
    """ConfigError naming the flag (or config key) of the first value the run cannot use (``common.value_checks``);
    a config's ``null`` for a setting that has a default is one of them."""
    for name, value in sorted(vars(args).items()):
        if name in ("config", "overrides", "logdir"):
            continue
        flag = table.get(name)
        label = flag.names[0] if flag is not None and flag.flag and name in given else "%s (%s)" % (name, source)
        label = label if flag is not None else "--" + name
        if value is None and flag is not None and flag.default is not None:
            raise ConfigError("%s must be %s, got null" % (label, flag.type.__name__ if flag.type else "set"))
        why = problem(name, value)
        if why:
            raise ConfigError("%s %s" % (label, why))


def run(main, argv=None):
    """Call ``main(argv)`` and exit with its status. A ``ValueError`` (bad flag, key or value) becomes one
    ``error: ...`` line and exit status 2; a run that cannot go on (``FloatingPointError``: divergence, ``OSError``:
    a file or directory it cannot read or write) one ``error: ...`` line and exit status 1; Ctrl-C one line (where
    the run resumes, when ``common.train`` says so) and exit status 130."""
    try:
        status = main(argv)
    except KeyboardInterrupt as e:
        sys.stderr.write("%s\n" % (one_line(e) if str(e) else "interrupted"))
        sys.exit(130)
    except ValueError as e:
        fail(one_line(e))
    except (FloatingPointError, OSError) as e:
        sys.stderr.write("error: %s\n" % one_line(e))
        sys.exit(1)
    sys.exit(status or 0)


def exit_status(fn):
    """A tool's ``main`` status: 0 after ``fn()``; a ``ValueError`` or ``OSError`` is one ``error: ...`` line on
    stderr and status 2."""
    try:
        fn()
    except (ValueError, OSError) as e:
        sys.stderr.write("error: %s\n" % one_line(e))
        return 2
    return 0
