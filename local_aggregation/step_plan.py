"""Absolute-step training plans: the release's stages end at a global step (``train_num_steps``), not an epoch.

``plan_steps`` turns "start at step S, stop at step T, save every E steps" into ``launch_train``'s
``max_epoch``; ``StopAtStep`` ends the run exactly at T (saving first when T is not at an epoch end).
"""
import math

from tensorpack.callbacks import Callback
from tensorpack.train.base import StopTraining

from common import resume
from common.callbacks import CheckpointSaver
from local_aggregation.checkpoints import checkpoint_global_step

__all__ = ["UNLIMITED_EPOCHS", "plan_steps", "StopAtStep"]

UNLIMITED_EPOCHS = 10 ** 9


def plan_steps(logdir, load_path, last_step, steps_per_epoch):
    """``(first global step, max_epoch)``: resume from ``logdir``'s newest checkpoint, else ``load_path``'s step.

    ``launch_train`` numbers epochs from the resumed checkpoint's step (or from 1 for a fresh log dir), so
    ``max_epoch`` covers ``last_step - first step`` steps; ``last_step`` None means unlimited.
    """
    latest = resume.latest_checkpoint(logdir)
    if latest is not None:
        start = resume.checkpoint_step(latest)
        first_epoch = start // steps_per_epoch + 1
    else:
        start, first_epoch = (checkpoint_global_step(load_path) if load_path else 0), 1
    if last_step is None:
        return start, UNLIMITED_EPOCHS
    return start, first_epoch - 1 + max(1, int(math.ceil((last_step - start) / float(steps_per_epoch))))


class StopAtStep(Callback):
    """Stop training once the global step reaches ``last_step``, with a checkpoint of that step written by the
    run's ``CheckpointSaver`` (finite check, rotation and retry included)."""

    def __init__(self, last_step):
        self._last_step = last_step

    def _setup_graph(self):
        savers = [cb for cb in self.trainer._callbacks.cbs if isinstance(cb, CheckpointSaver)]
        if len(savers) != 1:
            raise ValueError("StopAtStep needs the run's CheckpointSaver (launch_train adds it)")
        self._saver = savers[0]

    def _trigger_step(self):
        if self.global_step < self._last_step:
            return
        loop = self.trainer.loop
        if loop.epoch_num == loop.max_epoch and loop.local_step == loop.steps_per_epoch - 1:
            return  # the epoch ends here: the CheckpointSaver saves and the loop stops by itself
        self._saver.save()
        raise StopTraining("reached train_num_steps %d" % self._last_step)
