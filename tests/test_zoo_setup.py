"""The model zoo's optional PyTorch: pinned, installed by `make setup-zoo` (the CPU build with TORCH_INDEX), and CI runs it
before `make test` (so the .pth tests run there)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_setup_zoo_installs_the_pinned_cpu_torch():
    reqs = [ln for ln in (ROOT / "requirements-zoo.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    assert reqs == ["torch==2.13.0"]
    plan = subprocess.run(["make", "-s", "-n", "-C", str(ROOT), "-W", "requirements-zoo.txt", "setup-zoo",
                           "PY=" + sys.executable], capture_output=True, text=True, check=True).stdout
    assert "install -q -r requirements-zoo.txt" in " ".join(plan.split())
    cpu = subprocess.run(["make", "-s", "-n", "-C", str(ROOT), "-W", "requirements-zoo.txt", "setup-zoo",
                          "PY=" + sys.executable, "TORCH_INDEX=https://example.invalid/cpu"],
                         capture_output=True, text=True, check=True).stdout
    assert "--index-url https://example.invalid/cpu -r requirements-zoo.txt" in cpu


def test_ci_sets_up_the_zoo_before_the_tests():
    steps = [ln.split("#")[0].strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert steps.index("make setup") < steps.index("make setup-zoo") < steps.index("make test")
