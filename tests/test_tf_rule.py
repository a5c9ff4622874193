"""The TensorFlow rule: TF comes only from common/tf1.py, no tf.contrib, only names TF 1.15's tf.compat.v1 has."""
import ast
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ["common", "counting", "local_aggregation", "instance_disc", "revisiting", "classification",
            "dataset_miscs", "bench", "demo", "zoo"]
API_FILE = os.path.join(ROOT, "tests", "data", "tf115_compat_v1_api.txt")


def _api():
    with open(API_FILE) as f:
        names = {line.strip() for line in f if line.strip()}
    modules = {n.rsplit(".", 1)[0] for n in names if n.count(".") >= 2}
    return names, modules


def _source_files():
    for pkg in PACKAGES:
        for dirpath, _, files in os.walk(os.path.join(ROOT, pkg)):
            for name in files:
                if name.endswith(".py"):
                    yield os.path.join(dirpath, name)


def _tf_chains(tree):
    """Yield (lineno, 'tf.a.b.c') for every maximal attribute chain rooted at the name ``tf``."""
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "tf":
            parts, cur = ["tf"], node
            while isinstance(parents.get(cur), ast.Attribute) and parents[cur].value is cur:
                cur = parents[cur]
                parts.append(cur.attr)
            if len(parts) > 1:
                yield node.lineno, parts


def check_chain(parts, names, modules):
    """Return the first prefix of ``parts`` missing from the TF 1.15 API, or None."""
    prefix = "tf"
    for part in parts[1:]:
        if prefix != "tf" and prefix not in modules:
            return None  # attribute of a class or function: beyond the API list
        prefix = prefix + "." + part
        if part.startswith("__"):
            return None  # module dunders such as tf.__version__ exist on every version
        if prefix not in names:
            return prefix
    return None


def test_api_list_is_tf115():
    names, _ = _api()
    assert len(names) == 3216
    assert "tf.layers.conv2d" in names and "tf.contrib" not in names


def test_checker_catches_tf2_only_names():
    names, modules = _api()
    assert check_chain(["tf", "nn", "relu"], names, modules) is None
    assert check_chain(["tf", "GraphKeys", "UPDATE_OPS"], names, modules) is None
    assert check_chain(["tf", "nn", "silu"], names, modules) == "tf.nn.silu"
    assert check_chain(["tf", "experimental", "numpy"], names, modules) is not None
    assert check_chain(["tf", "contrib", "layers"], names, modules) == "tf.contrib"


def test_sources_use_only_tf115_names_and_import_tf_from_common():
    names, modules = _api()
    problems = []
    import_re = re.compile(r"^\s*(import tensorflow|from tensorflow)", re.M)
    for path in _source_files():
        rel = os.path.relpath(path, ROOT)
        with open(path) as f:
            text = f.read()
        if rel != os.path.join("common", "tf1.py") and import_re.search(text):
            problems.append("%s: imports tensorflow directly (use `from common.tf1 import tf`)" % rel)
        if "tf.contrib" in text or "tensorflow.contrib" in text:
            problems.append("%s: uses tf.contrib" % rel)
        for lineno, parts in _tf_chains(ast.parse(text, rel)):
            missing = check_chain(parts, names, modules)
            if missing:
                problems.append("%s:%d: %s is not in TF 1.15's tf.compat.v1" % (rel, lineno, missing))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("snippet", ["import tensorflow as tf\n", "x = tf.contrib.layers\n", "y = tf.nn.silu\n"])
def test_rule_fails_on_violations(tmp_path, snippet):
    names, modules = _api()
    tree = ast.parse(snippet)
    bad = "import tensorflow" in snippet or "tf.contrib" in snippet or any(
        check_chain(p, names, modules) for _, p in _tf_chains(tree))
    assert bad
