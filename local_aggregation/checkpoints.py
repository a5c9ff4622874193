"""Save paths and the release's stage-to-stage loading (``load_exp`` + ``load_step``).

Runs save ``model-<global step>`` under ``<cache_dir>/models/<db>/<col>/<exp_id>`` (the true step, so the
configs' ``load_step`` values name the last step of the previous stage, README decision 8). A new stage restores
every variable of the checkpoint whose name and shape match the graph, ``global_step`` included, so LR
boundaries stay absolute across IR -> LA -> transfer; the rest keeps its fresh value (README decision 9).
"""
import glob
import os

from tensorpack.tfutils.sessinit import SaverRestore
from tensorpack.utils import logger

from common.tf1 import tf

__all__ = ["exp_dir", "find_checkpoint", "checkpoint_global_step", "PartialRestore"]


def exp_dir(cache_dir, exp_path):
    """``<cache_dir>/models/<exp_path>`` where ``exp_path`` is ``db/col/exp_id``."""
    return os.path.join(cache_dir, "models", *exp_path.strip("/").split("/"))


def find_checkpoint(cache_dir, load_exp, load_step=None):
    """Path prefix of ``load_exp``'s ``model-<load_step>`` (newest when ``load_step`` is None); one-line error."""
    folder = exp_dir(cache_dir, load_exp)
    steps = sorted(int(p.rsplit("-", 1)[1][:-len(".index")])
                   for p in glob.glob(os.path.join(folder, "model-*.index")))
    if load_step is None and steps:
        load_step = steps[-1]
    if load_step not in steps:
        found = ", ".join("model-%d" % s for s in steps) or "no checkpoint"
        raise ValueError("load_exp %s: no checkpoint model-%s in %s (found %s)"
                         % (load_exp, "<latest>" if load_step is None else load_step, folder, found))
    return os.path.join(folder, "model-%d" % load_step)


def checkpoint_global_step(path):
    """The ``global_step`` value stored in checkpoint ``path`` (0 when it has none)."""
    names = dict(tf.train.list_variables(path))
    return int(tf.train.load_variable(path, "global_step")) if "global_step" in names else 0


class PartialRestore(SaverRestore):
    """Restore the variables whose name and shape match the checkpoint; log the ones left fresh."""

    def _setup_graph(self):
        in_ckpt = dict(tf.train.list_variables(self.path))
        skipped = [v.op.name for v in tf.global_variables()
                   if v.op.name in in_ckpt and list(in_ckpt[v.op.name]) != v.shape.as_list()]
        for name in skipped:
            logger.info("PartialRestore: %s has another shape in %s, keeping its fresh value" % (name, self.path))
        self.ignore = [name + ":0" for name in skipped]
        super(PartialRestore, self)._setup_graph()
