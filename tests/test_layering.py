"""Layering, read statically from the imports (ast): the import graph of the repository's top-level packages
has no cycle (inside ``common/`` too) and no import from a lower layer to a higher one:
``common`` < the paper directories and ``dataset_miscs`` < the registry ``papers.py`` < the tools (bench, demo,
zoo); no paper directory imports another one. The package list comes from ``pyproject.toml``."""
import ast
import os

import pytest
import tomllib
from setuptools import find_packages

import papers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAPER_DIRS = sorted({p.directory for p in papers.PAPERS})
TOOLS = ("bench", "demo", "zoo")


def layer_of(top):
    """0: ``common``; 1: a paper directory, ``dataset_miscs``; 2: the registry; 3: a tool; None: not ours."""
    if top == "common":
        return 0
    if top in PAPER_DIRS or top == "dataset_miscs":
        return 1
    return {"papers": 2}.get(top, 3 if top in TOOLS else None)


def imported_modules(source, package):
    """Dotted names imported by ``source`` (module-level and inside functions); relative imports resolved against
    ``package``, the dotted name of the file's package. ``from a import b`` yields ``a.b`` and ``a``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(base + "." + alias.name for alias in node.names)
    return found


def repository_modules(root=ROOT):
    """``{dotted module name: path}`` of every Python file outside tests, docs and hidden folders."""
    modules = {}
    for base, dirs, files in os.walk(root):
        skip = ("tests", "docs", "data") if base == root else ()
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__" and d not in skip)
        for name in files:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(base, name), root)[:-3].replace(os.sep, ".")
                modules[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = os.path.join(base, name)
    return modules


def import_graph(root=ROOT):
    """``{module: set of repository modules it imports}``."""
    modules = repository_modules(root)
    graph = {}
    for name, path in modules.items():
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        with open(path) as f:
            graph[name] = {m for m in imported_modules(f.read(), package) if m in modules and m != name}
    return graph


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))
    for v in sorted(graph):
        visit(v) if v not in index else None
    return out


def package_graph(graph):
    """The module graph collapsed to top-level packages (``papers`` is one)."""
    out = {}
    for a, targets in graph.items():
        out.setdefault(a.split(".")[0], set()).update(b.split(".")[0] for b in targets if b.split(".")[0] != a.split(".")[0])
    return out


def upward_imports(graph):
    """``"a -> b"`` for every import of a higher layer, or of another paper directory."""
    out = []
    for a, targets in sorted(graph.items()):
        for b in sorted(targets):
            ta, tb = a.split(".")[0], b.split(".")[0]
            la, lb = layer_of(ta), layer_of(tb)
            if la is not None and lb is not None and (lb > la or (la == lb == 1 and ta != tb)):
                out.append("%s -> %s" % (a, b))
    return out


def test_scanner_resolves_every_import_form():
    source = ("import counting.model\nfrom bench import step\nfrom .sibling import x\nfrom . import other\n"
              "def f():\n    import instance_disc\n")
    assert imported_modules(source, "revisiting.sub") == {
        "counting.model", "bench", "bench.step", "revisiting.sub.sibling", "revisiting.sub.sibling.x",
        "revisiting.sub", "revisiting.sub.other", "instance_disc"}


def test_checks_catch_a_cycle_and_an_upward_import():
    graph = {"common.a": {"common.b"}, "common.b": {"common.a"}, "counting.x": {"bench.step", "revisiting.y"},
             "bench.step": {"common.a"}}
    assert cycles(graph) == [["common.a", "common.b"]]
    assert upward_imports(graph) == ["counting.x -> bench.step", "counting.x -> revisiting.y"]


def test_registry_names_existing_directories():
    for directory in PAPER_DIRS:
        assert os.path.isdir(os.path.join(ROOT, directory)), directory


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert cycles(graph) == []
    assert cycles(package_graph(graph)) == []


def test_no_import_runs_up_the_layers_or_across_papers():
    assert upward_imports(import_graph()) == []


def packaged(root=ROOT):
    """Top-level packages that ``pyproject.toml``'s package finder selects under ``root``."""
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        find = tomllib.load(f)["tool"]["setuptools"]["packages"]["find"]
    assert find.get("namespaces") is False  # only folders with an __init__.py are packages
    return {p.split(".")[0] for p in find_packages(root, include=find.get("include", ("*",)),
                                                    exclude=find.get("exclude", ()))}


@pytest.mark.parametrize("directory", PAPER_DIRS + ["common", "dataset_miscs", "bench", "demo", "zoo"])
def test_packaging_includes_every_package_and_the_registry(directory):
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        assert "papers" in tomllib.load(f)["tool"]["setuptools"]["py-modules"]
    assert directory in packaged()
