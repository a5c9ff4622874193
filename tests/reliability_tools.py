"""Helpers of the reliability suite (tests/test_reliability.py), reusable by a paper's own kill/resume cases.

- ``long_run()``: True when ``RELIABILITY_LONG=1`` asks for the long version (more kills, more bad inputs).
- ``checkpoint_values(logdir, step=None)``: ``{variable: array}`` of ``model-<step>`` (default: the newest).
- ``assert_bit_identical(got, want)``: same variable names, every array equal bit for bit.
- ``run_killed(cmd, ...)``: run a command that is expected to die by SIGKILL; returns its output.
- ``run_ok(cmd, ...)`` / ``run_failing(cmd, ...)``: exit 0 / a one-line ``error:`` and a non-zero status;
  ``run_interrupted(cmd, ...)``: exit status 130 (Ctrl-C) without a traceback.
- ``kill_switch_env(...)``: environment that makes ``install_kill_switch()`` SIGKILL a child process at the
  k-th call of a function (a training step, a checkpoint-state write, a record write): a kill at an exact
  point of the work, where a timer would mostly hit start-up.
"""
import os
import signal
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILL_ENV = "RELIABILITY_KILL"  # "module:attr.path:k[:SIG]" -> SIGKILL (or SIG) at the k-th call of module.attr.path


def long_run():
    """True when the long version of the suite is requested (``RELIABILITY_LONG=1``)."""
    return os.environ.get("RELIABILITY_LONG", "") not in ("", "0")


def checkpoint_values(logdir, step=None):
    """Every variable of ``logdir``'s checkpoint ``model-<step>`` (default: the newest one) as arrays."""
    from common.tf1 import tf
    path = tf.train.latest_checkpoint(logdir) if step is None else os.path.join(logdir, "model-%d" % step)
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)}


def assert_bit_identical(got, want):
    """``got`` and ``want`` (dicts of arrays) have the same keys and bit-identical values."""
    assert sorted(got) == sorted(want)
    for name in want:
        a, b = np.asarray(got[name]), np.asarray(want[name])
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), name


def kill_switch_env(target, k, env=None, sig="KILL"):
    """Environment for a child process that sends itself SIG``sig`` (default SIGKILL; ``"INT"``: Ctrl-C) at the
    ``k``-th call of ``target`` (module:function)."""
    out = dict(os.environ if env is None else env)
    out[KILL_ENV] = "%s:%d:%s" % (target, k, sig)
    out["PYTHONPATH"] = ROOT + os.pathsep + out.get("PYTHONPATH", "")
    return out


def install_kill_switch():
    """In a child process: wrap the function named by ``RELIABILITY_KILL`` so that its k-th call SIGKILLs us."""
    spec = os.environ.get(KILL_ENV)
    if not spec:
        return
    module_name, path, k, sig = spec.rsplit(":", 3)
    owner = __import__(module_name, fromlist=["_"])
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original, calls = getattr(owner, name), [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == int(k) or (calls[0] > int(k) and sig == "KILL"):
            os.kill(os.getpid(), getattr(signal, "SIG" + sig))
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def _run(cmd, env=None, timeout=300):
    return subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)


def run_killed(cmd, env=None, timeout=300):
    """Run ``cmd``; assert it died by SIGKILL; return its stdout + stderr."""
    done = _run(cmd, env, timeout)
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stderr[-3000:])
    return done.stdout + done.stderr


def run_ok(cmd, env=None, timeout=300):
    """Run ``cmd``; assert exit status 0; return its stdout + stderr."""
    done = _run(cmd, env, timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def run_failing(cmd, env=None, timeout=300):
    """Run ``cmd``; assert a non-zero exit with exactly one ``error:`` line and no traceback; return that line."""
    done = _run(cmd, env, timeout)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert done.returncode not in (0, -signal.SIGKILL), done.stderr[-3000:]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    return errors[0]


def run_interrupted(cmd, env=None, timeout=300):
    """Run ``cmd`` (that gets a Ctrl-C); assert exit status 130 and no traceback; return its last stderr line."""
    done = _run(cmd, env, timeout)
    assert done.returncode == 130 and "Traceback" not in done.stderr, (done.returncode, done.stderr[-3000:])
    return done.stderr.strip().splitlines()[-1]


def python(*args):
    """``[sys.executable, *args]`` (the interpreter running the tests)."""
    return [sys.executable] + list(args)
