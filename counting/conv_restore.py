"""Phase 2 initialisation from a counting experiment: restore only conv1..conv5 of the backbone.

The release's name-matching restore also brought in ``global_step`` and Adam's ``beta1_power`` /
``beta2_power``; here exactly the ten conv kernels and biases are loaded, and a checkpoint of another
architecture is refused with one line. A checkpoint written by the release's own phase 1 (slim names
``alexnet_v2/conv1/weights``, ``biases``) is read through ``counting.release.slim_name``.
"""
import os
import re

from tensorpack.tfutils.sessinit import SessionInit

from common import resume
from common.tf1 import tf
from counting.release import slim_name

__all__ = ["CONV_PATTERN", "counting_checkpoint", "conv_variables", "ConvWeightsInit"]

CONV_PATTERN = re.compile(r"^alexnet_v2/conv[1-5]/")


def counting_checkpoint(cnt_dir, flag="--cnt_exp_name"):
    """The newest checkpoint in the counting experiment directory ``cnt_dir`` (or ``cnt_dir`` itself when it is a
    checkpoint prefix); ValueError when there is none."""
    if os.path.isfile(cnt_dir + ".index"):
        return cnt_dir
    if not os.path.isdir(cnt_dir):
        raise ValueError("%s: no counting experiment directory %s (run counter_trn.py first, or check --ckpt_root)"
                         % (flag, cnt_dir))
    ckpt = resume.latest_checkpoint(cnt_dir, flag)  # a damaged checkpoint file: the newest one in the files
    if ckpt is None:
        raise ValueError("%s: %s holds no checkpoint (did its counting run finish an epoch?)" % (flag, cnt_dir))
    return ckpt


def conv_variables(variables=None):
    """The backbone's conv1..conv5 kernels and biases among ``variables`` (default: all global variables)."""
    variables = tf.global_variables() if variables is None else variables
    return [v for v in variables if CONV_PATTERN.match(v.op.name)]


class ConvWeightsInit(SessionInit):
    """Load the graph's ``alexnet_v2/conv{1..5}`` variables, and nothing else, from ``ckpt`` (project or the
    release's slim names)."""

    def __init__(self, ckpt):
        self.ckpt = ckpt

    def _setup_graph(self):
        wanted = {v.op.name: v for v in conv_variables()}
        if not wanted:
            raise ValueError("the graph has no alexnet_v2/conv1..5 variables to restore")
        try:
            stored = dict(tf.train.list_variables(self.ckpt))
        except Exception as e:  # a corrupt or foreign file: one line
            raise ValueError("cannot read checkpoint %s (%s)" % (self.ckpt, str(e).splitlines()[0]))
        var_list = {}
        for name, var in sorted(wanted.items()):
            found = name if name in stored else slim_name(name)
            if found not in stored:
                raise ValueError("checkpoint %s is not a counting AlexNet: it has no %s (nor %s)"
                                 % (self.ckpt, name, found))
            if list(stored[found]) != var.shape.as_list():
                raise ValueError("checkpoint %s is not a counting AlexNet: %s has shape %s there, %s here"
                                 % (self.ckpt, found, list(stored[found]), var.shape.as_list()))
            var_list[found] = var
        self._saver = tf.train.Saver(var_list=var_list)

    def _run_init(self, sess):
        self._saver.restore(sess, self.ckpt)
