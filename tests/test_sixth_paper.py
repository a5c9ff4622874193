"""A sixth paper is one directory plus one registry line: in a temporary copy of the repository, the template
(docs/paper_template/) copied to ``newpaper/`` and one ``Paper(...)`` line in ``papers.py`` put it in the demo,
``bench.step``, the GPU check's dry-run rows and the package list, with no other edit; its release script has
the settings shape of every paper (tests/test_entry_scripts.py)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from common.data.records import read_meta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COPIED = ("papers.py", "pyproject.toml", "common", "bench", "demo", "dataset_miscs", "exp_configs", "counting",
          "instance_disc", "local_aggregation", "revisiting", "classification")
CHECKS = r"""
import json, sys
sys.path.insert(0, "tests")
from bench import gpu_rows, step
from test_layering import packaged
rows = gpu_rows.build_rows(gpu_rows.CPU_DRY_RUN, "REC", "REC", "WORK")
print(json.dumps({"steps": step.list_steps(), "rows": [[r.name, r.commands] for r in rows],
                  "packages": sorted(packaged("."))}))
sys.exit(step.main(["--step", "newpaper", "--model", "resnet18", "--batch", "2", "--image-size", "32",
                    "--num-classes", "3", "--steps", "1", "--warmup", "0"]))
"""


def _new_repository(root):
    """A copy of what the tools need, the template as ``newpaper/`` and one more line in the registry."""
    ignore = shutil.ignore_patterns("__pycache__", "*.md")
    for name in COPIED:
        src = os.path.join(ROOT, name)
        (shutil.copytree(src, os.path.join(root, name), ignore=ignore) if os.path.isdir(src)
         else shutil.copy(src, root))
    shutil.copytree(os.path.join(ROOT, "tests"), os.path.join(root, "tests"), ignore=shutil.ignore_patterns("data"))
    shutil.copytree(os.path.join(ROOT, "docs", "paper_template"), os.path.join(root, "newpaper"), ignore=ignore)
    with open(os.path.join(root, "papers.py")) as f:
        registry = f.read()
    assert registry.count("\nPAPERS = (\n") == 1
    with open(os.path.join(root, "papers.py"), "w") as f:
        f.write(registry.replace("\nPAPERS = (\n", '\nPAPERS = (\n    Paper("newpaper", "newpaper"),\n'))


@pytest.mark.slow
def test_a_sixth_paper_needs_one_directory_and_one_registry_line(tmp_path, toy_record_dir):
    root = str(tmp_path / "repo")
    os.makedirs(root)
    _new_repository(root)
    env = dict(os.environ, PYTHONPATH=root)
    out = subprocess.run([sys.executable, "-c", CHECKS], cwd=root, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    found = json.loads(lines[0])
    assert "newpaper" in found["steps"] and "classify" in found["steps"]
    rows = dict((name, commands) for name, commands in found["rows"])
    assert rows["newpaper toy run (toy_demo.py)"][0][-4:] == ["newpaper", "REC", "WORK/newpaper",
                                                              "WORK/newpaper.json"]
    assert "--step" in rows["bench.step newpaper (resnet18)"][0]
    assert "newpaper" in found["packages"]
    assert "| resnet18 | newpaper | CPU" in lines[-1]  # bench.step timed the new step

    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "images" / ".complete").write_text("")
    os.symlink(toy_record_dir, str(data / "records"))
    demo = subprocess.run([sys.executable, "-m", "demo", "--data", str(data), "--paper", "newpaper", "--skip-bench"],
                          cwd=root, env=env, capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr[-2000:]
    table = [line for line in demo.stdout.splitlines() if "newpaper (raw pixels, template)" in line]
    assert len(table) == 1 and "%" in table[0], demo.stdout[-2000:]

    # its release script has the settings shape of every paper, and its kNN beats chance on the toy records
    shape = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/test_entry_scripts.py", "-k", "newpaper"], cwd=root, env=env,
                           capture_output=True, text=True)
    assert shape.returncode == 0 and " passed" in shape.stdout, shape.stdout[-2000:]
    knn = subprocess.run([sys.executable, "newpaper/knn.py", "--data", toy_record_dir, "--k", "5"], cwd=root, env=env,
                         capture_output=True, text=True)
    assert knn.returncode == 0, knn.stderr[-2000:]
    top1 = float(knn.stdout.split("knn top-1 ")[1].split()[0])
    assert top1 > 1.0 / read_meta(toy_record_dir)["num_classes"], knn.stdout
    bad = subprocess.run([sys.executable, "newpaper/knn.py", "--data", toy_record_dir, "--k", "0"], cwd=root, env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1] == "error: --size and --k must be >= 1, got 16 and 0"
