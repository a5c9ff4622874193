"""Trainer launch shared by every paper: trainer choice, callbacks, auto-resume.

Public API (signatures are a contract; see docs/training.md; devices and their flags: ``common.devices``):

- ``per_tower_batch(total_batch, towers, flag="--batch")``: the per-tower batch; errors naming ``flag`` when it does
  not divide.
- ``launch_train(model, dataset, logdir, steps_per_epoch, max_epoch, towers, trainer="replicated",
  lr_schedule=None, callbacks=(), session_init=None, post_step=None, cluster=None, experiment=None,
  max_to_keep=10, monitors=None)``: one tower -> ``SimpleTrainer``,
  several -> ``SyncMultiGPUTrainerReplicated`` (TensorPack's default all-reduce) or ``...ParameterServer``,
  a ``cluster`` -> TensorPack's distributed trainers. ``dataset`` yields ONE TOWER's batch.
- ``gather_from_towers(trainer, tensor_name)``: a named tensor of every training tower, concatenated in
  tower order (for ``post_step`` ops that need the global batch; a memory bank is updated through the
  ``common.memory_bank.BankRows`` that its model's ``build_graph`` returns).
"""
import contextlib
import logging
import os
import re

from common.tf1 import tf
from common import distributed, resume, seeding
from common.devices import TRAINERS, Towers, add_virtual_devices
from common.memory_bank import copy_per_tower, record_bank_rows, update_from_towers
from common.callbacks import (CheckpointSaveError, CheckpointSaver, NaNGuard, StatsHistory, record_tower_cost,
                              remove_stale_temporaries)
from common.cli import one_line
from common.data import records
from common.data.input import DatasetInput, as_input
from common.data.fsutil import ensure_writable_dir
from tensorpack import (EstimatedTimeLeft, RunOp, ScalarPrinter, SimpleTrainer,
                        SyncMultiGPUTrainerParameterServer, SyncMultiGPUTrainerReplicated,
                        TFEventWriter, logger)
from tensorpack.tfutils.common import get_default_sess_config, get_global_step_var
from tensorpack.tfutils.optimizer import ProxyOptimizer
from tensorpack.tfutils.sesscreate import NewSessionCreator
from tensorpack.tfutils.sessinit import SaverRestore

__all__ = ["DatasetInput", "per_tower_batch", "launch_train", "gather_from_towers"]

def per_tower_batch(total_batch, towers, flag="--batch"):
    """``total_batch // len(towers)``; ValueError naming ``flag`` when it does not divide evenly."""
    n = max(len(towers), 1)
    if total_batch <= 0 or total_batch % n:
        raise ValueError("%s %d: must be a positive multiple of the %d tower(s)" % (flag, total_batch, n))
    return total_batch // n


def gather_from_towers(trainer, tensor_name):
    """Concatenate (axis 0) the tensor ``tensor_name`` of every training tower, in tower order."""
    tensors = []
    for handle in trainer.towers.training():
        t = handle.get_tensor(tensor_name)
        if t is None:
            raise ValueError("gather_from_towers: tower %r has no tensor %r (name it in build_graph with "
                             "tf.identity(x, name=%r))" % (handle.name, tensor_name, tensor_name))
        tensors.append(t)
    if len(tensors) == 1:
        return tensors[0]
    return tf.concat(tensors, axis=0, name="all_towers_" + tensor_name.split(":")[0].replace("/", "_"))


def _on_cpu(towers):
    on_cpu = getattr(towers, "on_cpu", None)
    if on_cpu is None:
        on_cpu = not tf.config.experimental.list_physical_devices("GPU")
    return on_cpu


def _gpu_to_cpu(op):
    """Device function: the op's ``GPU:k`` becomes ``CPU:k`` (towers on the CPU devices of --cpu_towers)."""
    return re.sub(r"(?i)(/device:|/)gpu:(\d+)", r"/device:CPU:\2", op.device)


def _session_config(towers, on_cpu):
    config = get_default_sess_config()
    if on_cpu:
        config.device_count["CPU"] = max(len(towers), 1)
        config.intra_op_parallelism_threads = 0
    return add_virtual_devices(config, towers)


def _make_trainer(kind, towers, server):
    if server is not None:
        return distributed.make_distributed_trainer(kind, towers, server)
    if len(towers) == 1:
        return SimpleTrainer()
    if kind == "ps":
        return SyncMultiGPUTrainerParameterServer(list(towers))
    return SyncMultiGPUTrainerReplicated(list(towers))


@contextlib.contextmanager
def _errors_named(source, logdir, ckpt):
    """One-line errors for a run that stops: a damaged shard (training or a sibling split's) or checkpoint by
    name, TensorFlow's own cause otherwise; Ctrl-C as a ``KeyboardInterrupt`` saying where the run resumes.

    TensorPack's main loop reports a failure with a malformed ``logger.error`` call, which makes ``logging``
    print its own traceback: that report is silenced here, the exception itself still propagates.
    """
    raise_exceptions, logging.raiseExceptions = logging.raiseExceptions, False
    try:
        yield
    except (tf.errors.DataLossError, tf.errors.NotFoundError) as e:  # damaged or deleted files
        files = list(getattr(getattr(source, "_dataset", None), "record_files", ()))
        found = records.find_corrupt_shard(files) or records.find_corrupt_shard(records.sibling_shards(files))
        if found is not None:
            raise ValueError("TFRecord shard %s is corrupt (%s); rebuild the records" % found)
        cause = one_line(e)
        if ckpt is not None and (ckpt in cause or "TensorBundle" in cause):
            raise ValueError("cannot restore checkpoint %s (%s): delete its files (%s.*) to resume from the one "
                             "before it, or use a new --logdir" % (ckpt, cause, ckpt))
        raise ValueError("training stopped: %s" % cause)
    except KeyboardInterrupt:
        last = resume.latest_checkpoint(logdir)
        raise KeyboardInterrupt("interrupted; the same command resumes from %s" % last if last else
                                "interrupted before the first checkpoint; the same command starts %s afresh" % logdir)
    finally:
        logging.raiseExceptions = raise_exceptions


def _chain_post_step(trainer, post_step):
    """Build ``post_step(trainer)`` after the train op and make every step run it once."""
    with tf.control_dependencies([trainer.train_op]):
        op = post_step(trainer)
    if op is not None:
        trainer.train_op = tf.group(trainer.train_op, op, name="train_op_and_post_step")


def _resume_point(logdir, steps_per_epoch):
    """(checkpoint path or None, starting epoch) from the newest checkpoint in ``logdir``."""
    path = resume.latest_checkpoint(logdir)
    if path is None:
        return None, 1
    return path, resume.checkpoint_step(path) // steps_per_epoch + 1


def _callbacks(lr_schedule, saver, reset_step, guard, extra):
    cbs = [saver, EstimatedTimeLeft(), guard]
    if lr_schedule is not None:
        cbs.extend(lr_schedule.callbacks())
    if reset_step:
        # distributed workers keep a local global step, not in the checkpoint: put it back where it was
        gs = get_global_step_var()
        cb = RunOp(lambda: tf.assign(gs, tf.maximum(gs, reset_step)).op, run_before=True, run_as_trigger=False)
        cb.chief_only = False
        cbs.append(cb)
    return cbs + list(extra)


class GatedOptimizer(ProxyOptimizer):
    """Apply no update before every gradient of the step is computed (TF1's ``GATE_GRAPH``): with reference
    variables a backward op reads a weight's buffer when it runs, so an update applied earlier would change the
    gradients of the same step (and make seeded runs differ from run to run)."""

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        grads_and_vars = list(grads_and_vars)
        gated = tf.tuple([g for g, _ in grads_and_vars])
        return self._opt.apply_gradients([(g, v) for g, (_, v) in zip(gated, grads_and_vars)], global_step, name)


def _optimizer_fn(model, lr_schedule):
    """The trainer's optimizer function: ``model.optimizer(lr)`` on the schedule's rate (a model without a
    schedule: its own ``optimizer()``), gated (``GatedOptimizer``), made once."""
    if lr_schedule is None:
        make = model.get_optimizer
    else:
        rate = lr_schedule.create_variable()

        def make():
            return model.optimizer(rate)
    made = []

    def get_optimizer():
        if not made:
            made.append(GatedOptimizer(make()))
        return made[0]
    return get_optimizer


def _build(model, dataset, towers, trainer, server, cluster, post_step, lr_schedule):
    """(trainer, input source): the graph built, towers, optimizer, post_step op (a cluster's variables on its ps)."""
    if server is not None:
        distributed.create_local_global_step()
    with (tf.device(distributed.variable_placement(cluster)) if server is not None else contextlib.nullcontext()):
        tr = _make_trainer(trainer, towers, server)
        source = as_input(dataset)
        get_optimizer, rows = _optimizer_fn(model, lr_schedule), []
        with copy_per_tower(isinstance(tr, SyncMultiGPUTrainerReplicated)):  # a bank copy on each tower's device
            tr.setup_graph(model.get_input_signature(), source,
                           record_tower_cost(record_bank_rows(model.build_graph, rows)), get_optimizer)
        if rows:  # the bank update: once per global step, after the train op
            _chain_post_step(tr, lambda _: update_from_towers(rows))
        if post_step is not None:
            _chain_post_step(tr, post_step)
    return tr, source


def launch_train(model, dataset, logdir, steps_per_epoch, max_epoch, towers, trainer="replicated",
                 lr_schedule=None, callbacks=(), session_init=None, post_step=None, cluster=None,
                 experiment=None, max_to_keep=10, monitors=None):
    """Build the towers of ``model`` (a TensorPack ModelDesc) on ``towers`` and train, resuming from ``logdir``.

    ``dataset``: a ``tf.data.Dataset`` (or zero-arg callable returning one, or an InputSource) that repeats
    forever and yields ONE TOWER's batch as a tuple matching ``model.inputs()``; each tower pulls its own batch,
    so the global batch is ``len(towers)`` times it. ``lr_schedule``: a schedule object of ``common.schedules``
    (``LearningRate`` or one of its kinds): its rate is created here and handed to ``model.optimizer(lr)``, its
    setter callbacks are added; None: the model's own ``optimizer()``.
    A model whose ``build_graph`` returns ``common.memory_bank.BankRows`` has its banks updated with the global
    batch once per step, after the train op. ``post_step(trainer) -> op or None`` is built under a control
    dependency on the train op and runs once per global step. ``experiment`` (str/dict) is stored in ``logdir/experiment.json``; a directory of another
    experiment is refused. ``cluster`` (``common.distributed.Cluster``): ps processes serve forever, workers
    train (worker 0 writes ``logdir``, worker i logs to ``logdir/worker<i>``). Checkpoints: ``model-<step>`` at
    each epoch end, only when every saved variable is finite; the newest ``max_to_keep`` of ``logdir`` are kept
    (earlier runs' included).
    Raises (one-line messages) ValueError for an unwritable ``logdir``, ``CheckpointSaveError`` (a ValueError)
    when a save failed twice, FloatingPointError when the loss or the state became NaN/inf (naming the last
    finite checkpoint, which is the newest one kept).
    """
    if not logdir:
        raise ValueError("--logdir: a log directory is required")
    if steps_per_epoch <= 0 or max_epoch <= 0:
        raise ValueError("steps_per_epoch (%r) and max_epoch (%r) must be positive" % (steps_per_epoch, max_epoch))
    towers = towers if len(towers) else Towers([0], on_cpu=True)
    on_cpu = _on_cpu(towers)
    if trainer not in TRAINERS:
        raise ValueError("--trainer %r: expected one of %s" % (trainer, ", ".join(TRAINERS)))
    resume.check_experiment(logdir, experiment)
    seeding.seed_graph()  # --seed: initialisation, noise draws, input order and augmentation of this graph
    server, names = None, contextlib.nullcontext()
    if cluster is not None:
        server = distributed.start_server(cluster, _session_config(towers, on_cpu))
        if cluster.job_name == "ps":
            logger.info("Parameter server %d of %s serving" % (cluster.task_index, ",".join(cluster.ps)))
            server.join()
            return
        names = distributed.tf1_names_for_tensorpack()
    is_chief = cluster is None or cluster.is_chief
    if is_chief:
        ensure_writable_dir(logdir, "--logdir")
    with resume.hold_logdir(logdir) if is_chief else contextlib.nullcontext():
        if is_chief:
            for path in remove_stale_temporaries(logdir):
                logger.info("Removed %s, left by a checkpoint write that was killed" % path)
        ckpt, starting_epoch = _resume_point(logdir, steps_per_epoch)
        guard, saver = NaNGuard(), CheckpointSaver(logdir, max_to_keep)
        with names, (tf.device(_gpu_to_cpu) if on_cpu else contextlib.nullcontext()):
            tr, source = _build(model, dataset, towers, trainer, server, cluster, post_step, lr_schedule)
            if ckpt is not None:
                get_global_step_var()  # created here, not later by the step counter, so that the check sees it
                resume.check_checkpoint_matches_graph(ckpt, logdir)
                session_init = SaverRestore(ckpt)
                logger.info("Resuming from %s at epoch %d" % (ckpt, starting_epoch))
            logger.set_logger_dir(logdir if is_chief else os.path.join(logdir, "worker%d" % cluster.task_index), "k")
            if is_chief:
                resume.record_experiment(logdir, experiment)
            reset_step = resume.checkpoint_step(ckpt) if ckpt is not None and server is not None else 0
            cbs = _callbacks(lr_schedule, saver, reset_step, guard, callbacks)
            monitors = [TFEventWriter(), StatsHistory(), ScalarPrinter()] if monitors is None else monitors
            creator = NewSessionCreator(config=_session_config(towers, on_cpu)) if server is None else None
            with _errors_named(source, logdir, ckpt):
                tr.train_with_defaults(callbacks=cbs, monitors=monitors, session_creator=creator,
                                       session_init=session_init, steps_per_epoch=steps_per_epoch,
                                       starting_epoch=starting_epoch, max_epoch=max_epoch)
    _raise_if_stopped(logdir, guard, saver, ckpt)


def _raise_if_stopped(logdir, guard, saver, ckpt):
    """One-line exception for a run stopped by divergence (FloatingPointError) or a failed save."""
    if saver.failed:
        raise CheckpointSaveError(saver.failed + " (retried once); training stopped")
    if saver.bad_restore and ckpt is None:
        raise FloatingPointError("the initial state holds NaN/inf (%s) before the first step: check the settings "
                                 "that give these variables their values" % ", ".join(saver.bad_restore[:3]))
    if saver.bad_restore:
        raise FloatingPointError("the restored state holds NaN/inf (%s) in %s: delete its files (%s.*) to resume "
                                 "from the checkpoint before it, or use a new --logdir"
                                 % (", ".join(saver.bad_restore[:3]), ckpt, ckpt))
    if saver.diverged is None and guard.bad_step is None:
        return
    if saver.diverged is not None:
        names, step = ", ".join(saver.diverged[1][:3]), saver.diverged[0]
        what = "variable(s) %s became NaN/inf by global step %d" % (names, step)
    else:
        what = "the loss became NaN/inf at global step %d" % guard.bad_step
    last = resume.latest_checkpoint(logdir)
    kept = ("the last finite checkpoint %s is kept (relaunch to resume from it, with a lower learning rate)" % last
            if last else "no finite checkpoint was written in %s (lower the learning rate)" % logdir)
    raise FloatingPointError("training diverged: %s; stopped, %s" % (what, kept))
