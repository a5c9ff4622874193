"""Layering, read statically from the imports (ast): ``common/`` imports no paper directory, dataset_miscs,
bench or demo; no paper directory imports another paper directory."""
import ast
import os

import pytest

import papers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAPER_DIRS = sorted({p.directory for p in papers.PAPERS})
ABOVE_COMMON = PAPER_DIRS + ["dataset_miscs", "bench", "demo"]


def imported_packages(source, module_path):
    """Top-level package of every import in ``source`` (relative imports resolved against ``module_path``,
    the dotted name of the file's package)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.add(module_path.split(".")[0])
            elif node.module:
                found.add(node.module.split(".")[0])
    return found


def _python_files(directory):
    for base, _, files in os.walk(os.path.join(ROOT, directory)):
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(base, name)


def violations(directory, forbidden):
    """``"file: imports pkg"`` for every import of a package in ``forbidden`` under ``directory``."""
    out = []
    for path in _python_files(directory):
        with open(path) as f:
            source = f.read()
        package = os.path.relpath(os.path.dirname(path), ROOT).replace(os.sep, ".")
        for pkg in sorted(imported_packages(source, package) & set(forbidden)):
            out.append("%s: imports %s" % (os.path.relpath(path, ROOT), pkg))
    return out


def test_import_scanner_sees_every_import_form():
    source = ("import counting.model\nfrom bench import step\nfrom demo.run_paper import main\n"
              "import numpy as np, dataset_miscs\nfrom . import sibling\n"
              "def f():\n    import instance_disc\n")
    assert imported_packages(source, "revisiting.sub") == {"counting", "bench", "demo", "numpy", "dataset_miscs",
                                                           "revisiting", "instance_disc"}


def test_registry_names_existing_directories():
    for directory in PAPER_DIRS:
        assert os.path.isdir(os.path.join(ROOT, directory)), directory


def test_common_imports_nothing_above_it():
    assert violations("common", ABOVE_COMMON) == []


@pytest.mark.parametrize("directory", PAPER_DIRS)
def test_paper_imports_no_other_paper(directory):
    assert violations(directory, [d for d in PAPER_DIRS if d != directory]) == []


def test_packaging_includes_every_registered_paper_and_the_registry():
    import tomllib
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        setuptools = tomllib.load(f)["tool"]["setuptools"]
    include = setuptools["packages"]["find"]["include"]
    assert "papers" in setuptools["py-modules"]
    for directory in PAPER_DIRS:
        assert directory + "*" in include, directory
