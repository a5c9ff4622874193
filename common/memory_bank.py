"""Memory banks: one N x D feature variable (and an optional N-vector of labels) shared by all towers.

The variables live in a fresh variable scope named by the caller (outside any tower scope), so every
tower of a multi-tower trainer that builds a bank with the same name gets the same variable. They are
non-trainable global variables, so checkpoints save them and optimizers never touch them.

Under ``copy_per_tower()`` (the single-machine replicated trainer), every training tower but the first builds
its own copy ``tower<i>/<scope>/<name>`` on its device instead: a local variable (not saved) that TensorPack's
replicated trainer fills from the shared one after initialisation or restore. Towers read their own copy, and
updates write the same rows into every copy, so no bank crosses devices in a training step (an ImageNet bank is
655 MB).

A model with a bank returns ``BankRows`` from ``build_graph`` in training: ``common.train.launch_train`` gathers
every tower's rows (the global batch, in tower order) and writes them once per step (``update_from_towers``).
"""
import collections
import contextlib
import math
import re

import numpy as np
from tensorpack.tfutils.tower import get_current_tower_context

from common.tf1 import tf

__all__ = ["MemoryBank", "LabelBank", "uniform_init_bound", "copy_per_tower", "bank_variable", "bank_copies",
           "assign_all_copies", "BankRows", "update_from_towers", "record_bank_rows"]

_PER_TOWER = "memory_bank_copy_per_tower"
_COPIES = "memory_bank_copies/"


def uniform_init_bound(dim):
    """Bound a = 1 / sqrt(D / 3) of the U[-a, a] bank init (variance 1/D per entry, E||row||^2 = 1)."""
    return 1.0 / math.sqrt(dim / 3.0)


def _bank_scope(name):
    """A variable scope named ``name`` that ignores the enclosing (tower) scope and reuses by name."""
    return tf.variable_scope(tf.VariableScope(tf.AUTO_REUSE, name=name))


@contextlib.contextmanager
def copy_per_tower(enable=True):
    """While building the graph inside this context, banks built in a training tower other than the first (of a
    trainer whose towers have their own variable scopes) are that tower's copies."""
    graph = tf.get_default_graph()
    if enable:
        graph.add_to_collection(_PER_TOWER, True)
    try:
        yield
    finally:
        if enable:
            graph.clear_collection(_PER_TOWER)


def _in_copy_tower():
    if not tf.get_collection(_PER_TOWER):
        return False
    ctx = get_current_tower_context()
    return ctx is not None and ctx.is_training and ctx.index > 0 and bool(ctx.vs_name)


def bank_variable(scope, name, shape, dtype, initializer):
    """The non-trainable bank variable ``scope/name`` (reused by name), or this tower's copy of it (see
    ``copy_per_tower``); the shared one must exist before a copy is made."""
    if not _in_copy_tower():
        with _bank_scope(scope):
            return tf.get_variable(name, shape, dtype, initializer=initializer, trainable=False)
    with _bank_scope(scope):
        shared = tf.get_variable(name, shape, dtype, initializer=initializer, trainable=False)
    with tf.variable_scope(scope, reuse=tf.AUTO_REUSE):  # inside the tower's scope: a local variable, its device
        copy = tf.get_variable(name, shape, dtype, initializer=initializer, trainable=False)
    if copy not in tf.get_collection(_COPIES + shared.op.name):
        tf.add_to_collection(_COPIES + shared.op.name, copy)
    return copy


def _shared_name(var):
    """``scope/name`` of a bank variable or of its tower copy ``tower<i>/scope/name``."""
    match = re.match(r"tower\d+/(.+)$", var.op.name)
    return match.group(1) if match and var in tf.get_collection(_COPIES + match.group(1)) else var.op.name


def bank_copies(var):
    """The shared bank variable of ``var`` (itself or one of its tower copies) first, then its tower copies."""
    name = _shared_name(var)
    return [v for v in tf.global_variables() if v.op.name == name] + tf.get_collection(_COPIES + name)


def assign_all_copies(var, value):
    """Op assigning ``value`` to the shared bank variable of ``var`` and to each of its tower copies."""
    return tf.group(*[tf.assign(v, value) for v in bank_copies(var)])


def _scatter_all_copies(var, indices, rows):
    """Op writing ``rows`` at ``indices`` into the shared bank variable of ``var`` and into each tower copy."""
    ops = [tf.scatter_update(v, indices, rows).op for v in bank_copies(var)]
    return ops[0] if len(ops) == 1 else tf.group(*ops)


def _device_scope(device):
    """``tf.device(device)``, or no change of placement when ``device`` is None.

    (``tf.device(None)`` would clear the enclosing placement, e.g. a parameter server's device setter.)
    """
    return tf.device(device) if device is not None else contextlib.nullcontext()


def _check_indices(indices, size, what):
    """Return int64 ``indices`` guarded by a range check against ``[0, size)``.

    Static values (numpy / lists) are checked in Python; tensors get graph assertions.
    """
    if not isinstance(indices, (tf.Tensor, tf.Variable)):
        arr = np.asarray(indices)
        if arr.size and (arr.min() < 0 or arr.max() >= size):
            raise ValueError("%s: index %d out of range [0, %d)" % (
                what, arr.min() if arr.min() < 0 else arr.max(), size))
        return tf.constant(arr, dtype=tf.int64)
    indices = tf.cast(indices, tf.int64)
    msg = "%s: index out of range [0, %d)" % (what, size)
    checks = [tf.assert_non_negative(indices, message=msg, summarize=1),
              tf.assert_less(indices, tf.constant(size, tf.int64), message=msg, summarize=1)]
    with tf.control_dependencies(checks):
        return tf.identity(indices)


class _Bank(object):
    """What both banks share: ``var`` (this tower's variable), ``shared`` (the saved one), checked indices."""
    kind = "bank"

    @property
    def shared(self):
        """The saved variable (``var`` is this tower's copy of it under ``copy_per_tower``)."""
        return bank_copies(self.var)[0]

    def _indices(self, indices):
        return _check_indices(indices, self.size, "%s %s" % (self.kind, _shared_name(self.var)))


class MemoryBank(_Bank):
    """An N x D non-trainable float32 bank: ``gather``, momentum ``update_op``, ``all_dot``.

    ``init="uniform"``: i.i.d. U[-a, a], a = 1/sqrt(D/3), op seed ``seed`` (rows are not normalised);
    ``init="zeros"``: all zeros. The variable is ``<name>/<var_name>`` (e.g. ``instance/memory_bank``).
    """
    kind = "memory bank"

    def __init__(self, name, size, dim, momentum=0.5, init="uniform", device=None, seed=None,
                 var_name="memory_bank"):
        if init not in ("uniform", "zeros"):
            raise ValueError("MemoryBank %r: init must be 'uniform' or 'zeros', got %r" % (name, init))
        if int(size) <= 0 or int(dim) <= 0:
            raise ValueError("MemoryBank %r: size and dim must be positive, got %s x %s" % (name, size, dim))
        if not 0.0 <= momentum <= 1.0:
            raise ValueError("MemoryBank %r: momentum must be in [0, 1], got %r" % (name, momentum))
        self.name, self.size, self.dim, self.momentum = name, int(size), int(dim), float(momentum)
        if init == "uniform":
            bound = uniform_init_bound(self.dim)
            initializer = tf.random_uniform_initializer(-bound, bound, seed=seed)
        else:
            initializer = tf.zeros_initializer()
        with _device_scope(device):
            self.var = bank_variable(name, var_name, [self.size, self.dim], tf.float32, initializer)

    def gather(self, indices):
        """Rows of the bank at ``indices`` (any int shape -> shape + [D]), no gradient into the bank."""
        return tf.stop_gradient(tf.gather(self.var, self._indices(indices)))

    def all_dot(self, features):
        """``features @ bank^T``: ``[B, D]`` -> ``[B, N]`` dot products with every row (bank is constant)."""
        return tf.matmul(features, tf.stop_gradient(tf.convert_to_tensor(self.var)), transpose_b=True)

    def update_op(self, indices, features):
        """Op setting ``bank[i] = normalize(m * bank[i] + (1 - m) * f)`` for each (index, feature) row.

        ``indices`` ``[B]`` and ``features`` ``[B, D]`` are the whole global batch (all towers gathered),
        so run it once per step; indices must be unique within it. Features carry no gradient. Every tower copy
        gets the same rows.
        """
        indices = self._indices(indices)
        features = tf.stop_gradient(tf.convert_to_tensor(features, dtype=tf.float32))
        old = tf.gather(self.shared, indices)
        new = tf.nn.l2_normalize(self.momentum * old + (1.0 - self.momentum) * features, axis=1)
        return _scatter_all_copies(self.var, indices, new)


class LabelBank(_Bank):
    """An N-vector of int64 labels (LA's ``all_labels``), zeros at init, overwritten with batch labels."""
    kind = "label bank"

    def __init__(self, name, size, device=None, var_name="all_labels"):
        if int(size) <= 0:
            raise ValueError("LabelBank %r: size must be positive, got %s" % (name, size))
        self.name, self.size = name, int(size)
        with _device_scope(device):
            self.var = bank_variable(name, var_name, [self.size], tf.int64, tf.zeros_initializer())

    def gather(self, indices):
        """Labels at ``indices``."""
        return tf.gather(self.var, self._indices(indices))

    def update_op(self, indices, labels):
        """Op setting ``labels_bank[indices] = labels`` (in every tower copy)."""
        return _scatter_all_copies(self.var, self._indices(indices), tf.cast(labels, tf.int64))


class BankRows(collections.namedtuple("BankRows", "cost bank index embedding label_bank label extra")):
    """What a bank model's ``build_graph`` returns in a training tower: its ``cost`` and its rows, ``embedding``
    ``[B, D]`` for ``bank`` (a MemoryBank) at ``index`` ``[B]``, ``label`` ``[B]`` for ``label_bank`` (a LabelBank,
    or None); ``extra``: None or ``(tensor, fn)``, a per-tower tensor concatenated over the towers and
    ``fn(concatenated) -> op`` run with the update (instance_disc freezes its Z so)."""

    def __new__(cls, cost, bank, index, embedding, label_bank=None, label=None, extra=None):
        return super(BankRows, cls).__new__(cls, cost, bank, index, embedding, label_bank, label, extra)


def update_from_towers(rows):
    """One op writing the ``BankRows`` of every training tower (concatenated in tower order: the global batch)
    into their banks, every tower copy included."""
    def concat(tensors):
        return tensors[0] if len(tensors) == 1 else tf.concat(tensors, axis=0)
    first = rows[0]
    index = concat([r.index for r in rows])
    ops = [first.bank.update_op(index, concat([r.embedding for r in rows]))]
    if first.label_bank is not None:
        ops.append(first.label_bank.update_op(index, concat([r.label for r in rows])))
    if first.extra is not None:
        ops.append(first.extra[1](concat([r.extra[0] for r in rows])))
    return tf.group(*ops, name="bank_update")


def record_bank_rows(build_graph, rows):
    """``build_graph`` for TensorPack: a ``BankRows`` result of a training tower is appended to ``rows`` (in tower
    order) and its cost returned."""
    def tower_fn(*inputs):
        out = build_graph(*inputs)
        if not isinstance(out, BankRows):
            return out
        ctx = get_current_tower_context()
        if ctx is not None and ctx.is_training:
            rows.append(out)
        return out.cost
    return tower_fn
