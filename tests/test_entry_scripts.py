"""One settings shape per paper and one way to start a script (docs/papers.md, "Settings and entry scripts").

Every registered paper directory has ``flags.py`` with ``SCRIPTS`` ({script: description}) and
``parse_flags(script, argv=None) -> (args, cfg)``; each script of ``SCRIPTS`` is ``<directory>/<script>.py`` and
its ``main(argv=None)`` begins with ``args, cfg = parse_flags("<script>", argv)``. Every module with a
``__main__`` block (papers, ``dataset_miscs``) has a docstring, leaves ``sys.path`` alone and ends with
``cli.run(main)``. The papers' data functions take the values they use, not ``args`` or the ``cfg`` dict.
"""
import ast
import glob
import importlib
import inspect
import os

import pytest

import papers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS_NAMES = ("args", "cfg", "config", "flags", "settings", "params", "options", "opts")
DATA_MODULES = ("counting/data.py", "instance_disc/inputs.py", "local_aggregation/augmentation.py",
                "revisiting/data.py", "revisiting/preprocess.py", "classification/augment.py",
                "classification/eval_data.py", "classification/seed_dali.py")


def _tree(path):
    with open(path) as f:
        return ast.parse(f.read(), path)


def _is_main_block(node):
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and getattr(node.test.left, "id", None) == "__name__")


def entry_modules():
    """Paths (relative to the repository) of the papers' and dataset_miscs' modules with a ``__main__`` block."""
    dirs = [p.directory for p in papers.PAPERS] + ["dataset_miscs"]
    paths = sorted(p for d in dirs for p in glob.glob(os.path.join(ROOT, d, "*.py")))
    return [os.path.relpath(p, ROOT) for p in paths if any(_is_main_block(n) for n in _tree(p).body)]


def _main_function(tree):
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"), None)


def _imports_main(tree):
    """True when the module takes ``main`` from another script of its directory (an alias such as LA's
    ``train_tfutils.py``)."""
    return any(isinstance(n, ast.ImportFrom) and any(a.name == "main" for a in n.names) for n in tree.body)


@pytest.mark.parametrize("path", entry_modules())
def test_every_entry_script_starts_the_same_way(path):
    tree = _tree(os.path.join(ROOT, path))
    assert ast.get_docstring(tree), "%s: no module docstring" % path
    with open(os.path.join(ROOT, path)) as f:
        assert "sys.path" not in f.read(), "%s edits sys.path (the project is installed: make setup)" % path
    last = tree.body[-1]
    assert _is_main_block(last) and ast.unparse(last.body[-1]).strip() == "cli.run(main)", \
        "%s does not end with `if __name__ == '__main__': cli.run(main)`" % path
    main = _main_function(tree)
    assert main is not None or _imports_main(tree), "%s has no main" % path
    if main is not None:
        assert [a.arg for a in main.args.args] == ["argv"] and ast.unparse(main.args.defaults[0]) == "None", \
            "%s: main must be main(argv=None)" % path


@pytest.mark.parametrize("paper", papers.PAPERS, ids=lambda p: p.name)
def test_each_paper_has_one_settings_module(paper):
    directory = os.path.join(ROOT, paper.directory)
    for other in ("params.py", "options.py", "settings.py"):
        assert not os.path.exists(os.path.join(directory, other)), "%s/%s: settings live in flags.py" % (
            paper.directory, other)
    flags = importlib.import_module(paper.directory + ".flags")
    assert list(inspect.signature(flags.parse_flags).parameters) == ["script", "argv"]
    assert isinstance(flags.SCRIPTS, dict) and all(isinstance(v, str) and v for v in flags.SCRIPTS.values())
    with pytest.raises(ValueError, match="unknown script 'no_such_script'.*" + ".*".join(flags.SCRIPTS)):
        flags.parse_flags("no_such_script", [])
    for script in flags.SCRIPTS:
        path = os.path.join(directory, script + ".py")
        assert os.path.exists(path), "%s.flags.SCRIPTS names %s, which does not exist" % (paper.directory, script)
        main = _main_function(_tree(path))
        assert main is not None, "%s has no main" % path
        body = [n for n in main.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        assert ast.unparse(body[0]) == "args, cfg = parse_flags(%r, argv)" % script, \
            "%s: main must begin with args, cfg = parse_flags(%r, argv)" % (path, script)


@pytest.mark.parametrize("path", [p for p in DATA_MODULES if os.path.isdir(os.path.join(ROOT, p.split("/")[0]))])
def test_data_functions_take_values_not_the_settings(path):
    for node in ast.walk(_tree(os.path.join(ROOT, path))):
        if isinstance(node, ast.FunctionDef):
            names = [a.arg for a in node.args.args + node.args.kwonlyargs]
            assert not set(names) & set(SETTINGS_NAMES), "%s: %s(%s) takes the settings, not values" % (
                path, node.name, ", ".join(names))
