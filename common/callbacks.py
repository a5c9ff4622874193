"""TensorPack callbacks of the training launcher: loss guard, checkpoint saver with a finiteness check, history.

``record_tower_cost(build_graph)`` wraps a ``ModelDesc.build_graph`` so that every training tower's total cost
lands in the ``TOWER_COSTS`` collection; ``NaNGuard`` fetches those costs with every step and stops training at
the first non-finite one. ``CheckpointSaver`` checks every saved variable before writing a checkpoint (a
non-finite state is never saved), keeps the newest ``max_to_keep`` checkpoints of the directory (earlier
processes' included) and stops the run when a save fails twice. ``StatsHistory`` keeps one ``stats.json`` per
run across resumes.
"""
import glob
import os
import shutil

import numpy as np

from common.tf1 import tf
from common.cli import one_line
from common.resume import checkpoint_steps
from tensorpack import Callback, JSONWriter, logger
from tensorpack.tfutils.tower import get_current_tower_context
from tensorpack.train.base import StopTraining

__all__ = ["TOWER_COSTS", "record_tower_cost", "NaNGuard", "CheckpointSaver", "CheckpointSaveError",
           "StatsHistory", "remove_stale_temporaries"]

TOWER_COSTS = "tower_total_costs"


def record_tower_cost(build_graph):
    """Wrap ``build_graph(*inputs) -> cost`` so each training tower adds its cost to ``TOWER_COSTS``."""
    def tower_fn(*inputs):
        cost = build_graph(*inputs)
        ctx = get_current_tower_context()
        if ctx is not None and ctx.is_training:
            tf.add_to_collection(TOWER_COSTS, cost)
        return cost
    return tower_fn


class NaNGuard(Callback):
    """Watch the towers' total cost: log its epoch mean as ``train_cost``, stop at the first NaN/inf.

    The stop runs in ``trigger_step``, before the epoch's checkpoint; ``bad_step`` holds the global step that
    diverged. (The loss is computed before the step's update: ``CheckpointSaver`` checks the state itself.)
    """

    _chief_only = False

    def __init__(self):
        self.bad_step = None
        self._bad_values = None
        self._sum, self._count = 0.0, 0

    def _setup_graph(self):
        self._costs = tf.get_collection(TOWER_COSTS)
        if not self._costs:
            raise ValueError("NaNGuard: no tower cost in collection %r (wrap build_graph with "
                             "record_tower_cost)" % TOWER_COSTS)

    def _before_run(self, _):
        return tf.train.SessionRunArgs(fetches=self._costs)

    def _after_run(self, _, run_values):
        values = np.asarray(run_values.results, dtype=np.float64)
        if not np.all(np.isfinite(values)):
            self._bad_values = values
        else:
            self._sum, self._count = self._sum + values.mean(), self._count + 1

    def _trigger_step(self):
        if self._bad_values is not None:
            self.bad_step = self.global_step
            logger.error("NaNGuard: total cost is not finite at global step %d (tower costs %s); stopping "
                         "without saving this state" % (self.bad_step, self._bad_values.tolist()))
            raise StopTraining("non-finite loss at global step %d" % self.bad_step)

    def _trigger_epoch(self):
        if self._count:
            self.trainer.monitors.put_scalar("train_cost", self._sum / self._count)
        self._sum, self._count = 0.0, 0


class CheckpointSaveError(ValueError):
    """A checkpoint could not be written (twice); the run stopped."""


TEMPORARY_PATTERNS = ("*.tempstate*", "checkpoint.tmp*", "model-*_temp")


def remove_stale_temporaries(logdir):
    """Delete the temporary files that a killed checkpoint write leaves behind; return their paths."""
    stale = sorted(p for pat in TEMPORARY_PATTERNS for p in glob.glob(os.path.join(logdir, pat)))
    for path in stale:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
    return stale


class CheckpointSaver(Callback):
    """Save ``model-<global step>`` at every epoch end, only when every saved variable is finite.

    A non-finite variable stops training (``diverged``: ``(step, variable names)``) without saving; older
    checkpoints are deleted only after a newer finite one was written, so the newest checkpoint is always the
    last finite one. At most ``max_to_keep`` checkpoints stay in ``logdir``, counting those of earlier
    processes; those newer than the restored step (a killed write's, never registered in ``checkpoint``) are
    deleted at the start. A failed save is retried once; a second failure stops training (``failed``: the error text).
    A restored non-finite state stops training before the first step (``bad_restore``: variable names).
    """

    def __init__(self, logdir, max_to_keep=10):
        self.logdir, self.max_to_keep = logdir, max(int(max_to_keep), 1)
        self.diverged = self.failed = self.bad_restore = None
        self._last_saved = None

    def _setup_graph(self):
        self._vars = sorted(set(tf.global_variables()), key=lambda v: v.op.name)
        self.saver = tf.train.Saver(var_list=self._vars, max_to_keep=None, write_version=tf.train.SaverDef.V2,
                                    save_relative_paths=True)
        floats = [v for v in self._vars if v.dtype.base_dtype.is_floating]
        self._float_names = [v.op.name for v in floats]
        with tf.name_scope("checkpoint_finite"):
            self._finite = tf.stack([tf.reduce_all(tf.is_finite(v)) for v in floats]) if floats else None

    def non_finite(self):
        """Names of the saved variables that hold a NaN or inf now (one cheap fused check)."""
        if self._finite is None:
            return []
        ok = self.trainer.sess.run(self._finite)
        return [n for n, good in zip(self._float_names, ok) if not good]

    def _before_train(self):
        bad = self.non_finite()
        if bad:
            self.bad_restore = bad
            raise StopTraining("the restored state is not finite")
        self._remove([s for s in checkpoint_steps(self.logdir) if s > self.global_step])
        self._last_saved = self.global_step if checkpoint_steps(self.logdir)[-1:] == [self.global_step] else None

    def _trigger(self):
        self.save()

    def save(self):
        """Check, write and register ``model-<global step>``, then rotate; StopTraining on divergence/failure."""
        step = self.global_step
        if step == self._last_saved:
            return
        bad = self.non_finite()
        if bad:
            self.diverged = (step, bad)
            logger.error("CheckpointSaver: %d variable(s) not finite at global step %d (%s); not saved"
                         % (len(bad), step, ", ".join(bad[:5])))
            raise StopTraining("non-finite state at global step %d" % step)
        for attempt in (1, 2):
            try:
                self._write(step)
                break
            except (tf.errors.OpError, OSError, ValueError) as e:
                message = one_line(e)
                logger.error("CheckpointSaver: saving model-%d failed (attempt %d of 2): %s"
                             % (step, attempt, message))
                if attempt == 2:
                    self.failed = "cannot save checkpoint model-%d in %s: %s" % (step, self.logdir, message)
                    raise StopTraining(self.failed)
        self._last_saved = step
        self._rotate()
        logger.info("Model saved to %s." % os.path.join(self.logdir, "model-%d" % step))

    def _write(self, step):
        self.saver.save(self.trainer.sess, os.path.join(self.logdir, "model"), global_step=step,
                        write_meta_graph=False, write_state=False)
        kept = checkpoint_steps(self.logdir)[-self.max_to_keep:]
        # an absolute directory keeps the names relative (TF rewrites them against a relative one)
        tf.train.update_checkpoint_state(os.path.abspath(self.logdir), "model-%d" % step,
                                         all_model_checkpoint_paths=["model-%d" % s for s in kept])

    def _rotate(self):
        self._remove(checkpoint_steps(self.logdir)[:-self.max_to_keep])

    def _remove(self, steps):
        for old in steps:
            for path in glob.glob(os.path.join(self.logdir, "model-%d.*" % old)):
                try:
                    os.remove(path)
                except OSError as e:
                    logger.warn("CheckpointSaver: cannot remove %s: %s" % (path, e))


class StatsHistory(JSONWriter):
    """TensorPack's ``stats.json`` writer that keeps one history per run across resumes.

    Entries up to the resumed global step are kept and later ones (redone after the resume) dropped, whatever
    the epoch numbering; TensorPack's writer would move the file aside when the numbering does not continue.
    """

    def __new__(cls):
        return Callback.__new__(cls)

    def _before_train(self):
        self._fname = os.path.join(logger.get_logger_dir(), JSONWriter.FILENAME)
        stats = JSONWriter.load_existing_json() or []
        step = self.global_step
        self._stats = [s for s in stats if isinstance(s, dict) and s.get("global_step", 0) <= step]
        self._trigger()
