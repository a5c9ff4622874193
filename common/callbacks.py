"""TensorPack callbacks of the training launcher: the NaN/inf-loss guard and the tower-cost recorder it reads.

``record_tower_cost(build_graph)`` wraps a ``ModelDesc.build_graph`` so that every training tower's total cost
lands in the ``TOWER_COSTS`` collection; ``NaNGuard`` fetches those costs with every step and stops training
before a non-finite state can reach a checkpoint.
"""
import numpy as np

from common.tf1 import tf
from tensorpack import Callback, logger
from tensorpack.tfutils.tower import get_current_tower_context
from tensorpack.train.base import StopTraining

__all__ = ["TOWER_COSTS", "record_tower_cost", "NaNGuard"]

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

    The stop runs in ``trigger_step``, before the epoch's ``ModelSaver`` trigger, so the bad state is never
    saved and the last good checkpoint stays the latest. ``bad_step`` holds the global step that diverged.
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
