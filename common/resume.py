"""Auto-resume from a log directory: which checkpoint to load, where to restart, and whether it is ours.

One run at a time holds a log directory (``hold_logdir``: a lock the kernel drops when the process dies, so a
killed run leaves nothing stuck). A log directory remembers the experiment that wrote it in ``experiment.json``;
relaunching the same command resumes from the newest ``model-<step>`` checkpoint (every global variable,
trainable or not) at epoch ``step // steps_per_epoch + 1``. When the ``checkpoint`` file is missing, unreadable
or names a checkpoint that is not there, the newest readable ``model-<step>`` found in the files is used (said
in one log line); a directory holding checkpoints of which none is readable is refused, so a run never starts
over in it. A directory of another experiment (different ``experiment.json`` or checkpoint variables that do
not match the graph) is refused with one error line before anything is written.
"""
import contextlib
import fcntl
import json
import os
import re

from common.tf1 import tf
from tensorpack import logger

__all__ = ["EXPERIMENT_FILE", "check_experiment", "record_experiment", "latest_checkpoint", "checkpoint_steps",
           "checkpoint_prefix", "checkpoint_step", "check_checkpoint_matches_graph", "LOCK_FILE", "hold_logdir"]

EXPERIMENT_FILE = "experiment.json"
LOCK_FILE = ".run.lock"


@contextlib.contextmanager
def hold_logdir(logdir):
    """Hold ``logdir/.run.lock`` (``flock``) while the block runs; ValueError when another run holds it (a file
    system without locks: a warning, unlocked)."""
    path = os.path.join(logdir, LOCK_FILE)
    handle = open(path, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ValueError("--logdir %s is in use by another run (%s is locked); wait for it to end or use a new "
                         "--logdir" % (logdir, path))
    except OSError as e:  # a file system without locks (some network mounts): go on, said once
        logger.warn("--logdir %s: cannot lock %s (%s); a second run on it would not be refused" % (logdir, path, e))
    try:
        yield
    finally:
        handle.close()


def _canonical(experiment):
    return json.loads(json.dumps(experiment, sort_keys=True, default=str))


def check_experiment(logdir, experiment):
    """Raise ValueError if ``logdir`` already belongs to an experiment other than ``experiment``."""
    path = os.path.join(logdir, EXPERIMENT_FILE)
    if experiment is None or not os.path.isfile(path):
        return
    with open(path) as f:
        try:
            stored = json.load(f)
        except ValueError:
            raise ValueError("--logdir %s: %s is not valid JSON" % (logdir, path))
    current = _canonical(experiment)
    if stored != current:
        raise ValueError("--logdir %s holds another experiment's run: %s; use a new --logdir"
                         % (logdir, first_difference(stored, current)))


def first_difference(stored, current, prefix=""):
    """The first key (sorted, dotted inside objects) whose value differs, as ``key: A in experiment.json, B here``."""
    if isinstance(stored, dict) and isinstance(current, dict):
        for key in sorted(set(stored) | set(current)):
            if stored.get(key, _MISSING) != current.get(key, _MISSING):
                return first_difference(stored.get(key, _MISSING), current.get(key, _MISSING), prefix + key + ".")
    show = lambda v: "absent" if v is _MISSING else json.dumps(v, sort_keys=True)[:80]  # noqa: E731
    return "%s: %s in %s, %s here" % (prefix.rstrip(".") or "experiment", show(stored), EXPERIMENT_FILE, show(current))


_MISSING = object()


def record_experiment(logdir, experiment):
    """Write ``experiment`` to ``logdir/experiment.json`` (no-op for None or when already there)."""
    path = os.path.join(logdir, EXPERIMENT_FILE)
    if experiment is None or os.path.isfile(path):
        return
    os.makedirs(logdir, exist_ok=True)
    with open(path, "w") as f:
        json.dump(_canonical(experiment), f, indent=1, sort_keys=True)


CHECKPOINT_RE = re.compile(r"^model-(\d+)\.index$")
_said = set()


def checkpoint_steps(logdir):
    """Sorted global steps of the ``model-<step>`` checkpoints in ``logdir`` (all processes' checkpoints)."""
    names = os.listdir(logdir) if os.path.isdir(logdir) else []
    return sorted(int(m.group(1)) for m in map(CHECKPOINT_RE.match, names) if m)


def _readable(path):
    try:
        return bool(tf.train.list_variables(path))
    except Exception:  # a missing, truncated or garbled index: not a checkpoint to resume from
        return False


def _named(logdir):
    """(path the ``checkpoint`` file names or None, why it cannot be used or None)."""
    state_file = os.path.join(logdir, "checkpoint")
    if not os.path.exists(state_file):
        return None, "there is no %s" % state_file
    try:
        state = tf.train.get_checkpoint_state(logdir)
    except Exception:  # a garbled text proto
        state = None
    if state is None or not state.model_checkpoint_path:
        return None, "%s is unreadable" % state_file
    path = state.model_checkpoint_path
    path = path if os.path.isabs(path) else os.path.join(logdir, path)
    if not _readable(path):
        return None, "%s names %s, which is missing or unreadable" % (state_file, os.path.basename(path))
    return path, None


def latest_checkpoint(logdir, what="--logdir"):
    """Path prefix of the checkpoint to resume from (the one ``logdir/checkpoint`` names, else the newest
    readable ``model-<step>`` in the files), or None for a directory without checkpoints; ValueError (naming
    ``what``, the flag that gave ``logdir``) when ``logdir`` holds checkpoints of which none is readable."""
    if not os.path.isdir(logdir):
        return None
    path, why = _named(logdir)
    if path is not None:
        return path
    steps = checkpoint_steps(logdir)
    found = [os.path.join(logdir, "model-%d" % s) for s in reversed(steps)]
    found = next((p for p in found if _readable(p)), None)
    resuming = what == "--logdir"
    if found is None and (steps or os.path.exists(os.path.join(logdir, "checkpoint"))):
        raise ValueError("%s %s: %s and no readable model-<step> checkpoint is there%s" % (
            what, logdir, why, "; refusing to start over in it (use a new --logdir)" if resuming else ""))
    if found is not None and (logdir, found, why) not in _said:
        _said.add((logdir, found, why))
        logger.warn("%s: %s %s, the newest readable checkpoint in the files"
                    % (why, "resuming from" if resuming else "reading", found))
    return found


def checkpoint_prefix(path, what):
    """The checkpoint prefix that ``path`` names: the prefix itself, or a directory holding one (``latest_checkpoint``:
    its ``checkpoint`` file's, else the newest readable ``model-<step>``; else its only ``*.index``); ValueError
    naming ``what`` (a flag or argument) otherwise."""
    if os.path.isfile(path + ".index"):
        return path
    if os.path.isdir(path):
        try:
            latest = latest_checkpoint(path, what)
        except ValueError:  # no readable model-<step>: a prefix of another name may still be there
            latest = None
        if latest is not None:
            return latest
        found = sorted(f[:-len(".index")] for f in os.listdir(path) if f.endswith(".index"))
        if len(found) == 1:
            return os.path.join(path, found[0])
        if found:
            raise ValueError("%s: %s holds %d checkpoints (%s); name one prefix" % (what, path, len(found),
                                                                                 ", ".join(found)))
    raise ValueError("%s: %s is neither a checkpoint prefix (no %s.index) nor a directory holding one"
                     % (what, path, os.path.basename(path)))


def checkpoint_step(path):
    """Global step of a ``.../model-<step>`` checkpoint written by ``common.callbacks.CheckpointSaver``."""
    try:
        return int(os.path.basename(path).rsplit("-", 1)[1])
    except (IndexError, ValueError):
        raise ValueError("checkpoint %s: name does not end in -<global step>" % path)


def check_checkpoint_matches_graph(path, logdir, variables=None):
    """Raise ValueError unless the checkpoint holds exactly the graph's global variables, with equal shapes."""
    variables = tf.global_variables() if variables is None else variables
    in_graph = {v.op.name: v.shape.as_list() for v in variables}
    try:
        in_ckpt = dict(tf.train.list_variables(path))
    except Exception as e:  # a corrupt or foreign checkpoint: say so in one line
        raise ValueError("--logdir %s: cannot read checkpoint %s (%s)" % (logdir, path, str(e).splitlines()[0]))
    problems = ["'%s' is missing there" % n for n in sorted(set(in_graph) - set(in_ckpt))]
    problems += ["'%s' is not in this model" % n for n in sorted(set(in_ckpt) - set(in_graph))]
    problems += ["'%s' has shape %s there, %s here" % (n, in_ckpt[n], in_graph[n])
                 for n in sorted(set(in_graph) & set(in_ckpt)) if list(in_ckpt[n]) != in_graph[n]]
    if problems:
        raise ValueError("--logdir %s holds a checkpoint of another experiment (%s: %s); use a new --logdir"
                         % (logdir, os.path.basename(path), "; ".join(problems[:3])))
