"""Several machines: cluster description (flags or ``TF_CONFIG``), the TF server, and TensorPack's distributed trainers.

A cluster is ``ps`` and ``worker`` host:port lists plus this process's role and index, from
``--ps_hosts/--worker_hosts/--job_name/--task_index`` or the ``TF_CONFIG`` environment variable
(``{"cluster": {"ps": [...], "worker": [...]}, "task": {"type": "worker", "index": 0}}``); flags win.
Training uses TensorFlow's own runtime (``tf.train.Server``) through TensorPack's
``DistributedTrainerReplicated`` (``--trainer replicated``: per-worker towers, variables on the ps) or
``DistributedTrainerParameterServer`` (``--trainer ps``). Their TensorPack modules call TF1 names through the
raw ``tensorflow`` namespace (and the ps builder a contrib load balancer): ``tf1_names_for_tensorpack`` points
them at ``tf.compat.v1`` plus ``GreedyLoadBalancingStrategy`` below while a distributed run is built and trained.
"""
import collections
import contextlib
import json
import os
import types

from common.tf1 import tf
from tensorpack import DistributedTrainerParameterServer, DistributedTrainerReplicated
from tensorpack.graph_builder import distributed as tp_builder_module
from tensorpack.graph_builder.distributed import DataParallelBuilder, DistributedReplicatedBuilder
from tensorpack.tfutils import distributed as tp_session_module
from tensorpack.graph_builder.utils import allreduce_grads_naive, split_grad_list
from tensorpack.utils.argtools import memoized

__all__ = ["Cluster", "add_cluster_args", "cluster_from_args", "start_server", "variable_placement",
           "create_local_global_step", "GreedyLoadBalancingStrategy", "byte_size_load_fn", "tf1_names_for_tensorpack",
           "AveragingReplicatedBuilder", "make_distributed_trainer"]


class Cluster(collections.namedtuple("Cluster", ["ps", "worker", "job_name", "task_index"])):
    """Host lists of the ``ps`` and ``worker`` jobs and this process's ``job_name`` / ``task_index``."""

    @property
    def is_chief(self):
        """Worker 0 is the chief: it initialises or restores variables and writes checkpoints and logs."""
        return self.job_name == "worker" and self.task_index == 0

    @property
    def num_workers(self):
        """Number of worker processes (shard the input by ``task_index`` out of this)."""
        return len(self.worker)


def add_cluster_args(parser):
    """Add ``--ps_hosts``, ``--worker_hosts``, ``--job_name``, ``--task_index`` to ``parser``."""
    parser.add_argument("--ps_hosts", default="", help="comma-separated host:port of the parameter servers")
    parser.add_argument("--worker_hosts", default="", help="comma-separated host:port of the workers")
    parser.add_argument("--job_name", default="", choices=["", "worker", "ps"], help="this process's job")
    parser.add_argument("--task_index", type=int, default=None, help="this process's index in its job")
    return parser


def _hosts(text, flag):
    hosts = [h.strip() for h in text.split(",") if h.strip()] if isinstance(text, str) else list(text)
    for h in hosts:
        host, _, port = h.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("%s: %r is not host:port" % (flag, h))
    return hosts


def _from_tf_config(text):
    try:
        conf = json.loads(text)
        cluster, task = conf["cluster"], conf["task"]
        return (cluster.get("ps", []), cluster.get("worker", []), task["type"], int(task["index"]))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError("TF_CONFIG: expected {\"cluster\": {\"ps\": [...], \"worker\": [...]}, "
                         "\"task\": {\"type\": ..., \"index\": ...}} (%s: %s)" % (type(e).__name__, e))


def cluster_from_args(args, environ=None):
    """The ``Cluster`` described by the cluster flags of ``args`` or by ``TF_CONFIG``; None for one machine."""
    environ = os.environ if environ is None else environ
    flags = (getattr(args, "ps_hosts", ""), getattr(args, "worker_hosts", ""), getattr(args, "job_name", ""),
             getattr(args, "task_index", None))
    if any(flags[:3]) or flags[3] is not None:
        ps, worker, job, index = flags
        source = "--job_name"
    elif environ.get("TF_CONFIG"):
        ps, worker, job, index = _from_tf_config(environ["TF_CONFIG"])
        source = "TF_CONFIG task type"
    else:
        return None
    ps, worker = _hosts(ps, "--ps_hosts"), _hosts(worker, "--worker_hosts")
    if job not in ("ps", "worker"):
        raise ValueError("%s must be 'worker' or 'ps', got %r" % (source, job))
    if not worker or not ps:
        raise ValueError("cluster needs at least one worker and one ps (--worker_hosts %r, --ps_hosts %r)"
                         % (",".join(worker), ",".join(ps)))
    count = len(worker) if job == "worker" else len(ps)
    if index is None or not 0 <= int(index) < count:
        raise ValueError("--task_index %s: must be in [0, %d) for job %r" % (index, count, job))
    return Cluster(ps, worker, job, int(index))


def start_server(cluster, config=None):
    """Start this process's ``tf.train.Server`` (the session config goes here, not to the trainer)."""
    spec = tf.train.ClusterSpec({"ps": list(cluster.ps), "worker": list(cluster.worker)})
    return tf.train.Server(spec, job_name=cluster.job_name, task_index=cluster.task_index, config=config)


def variable_placement(cluster):
    """Device function for a worker's graph: variables made outside the towers (learning rate, memory banks)
    go to the ps tasks, so that every worker shares them; everything else stays on this worker."""
    spec = tf.train.ClusterSpec({"ps": list(cluster.ps), "worker": list(cluster.worker)})
    return tf.train.replica_device_setter(worker_device="/job:worker/task:%d" % cluster.task_index, cluster=spec)


def create_local_global_step():
    """Create ``global_step`` as a LOCAL variable: each worker counts its own (synchronous) steps.

    TensorPack means it to be local but builds it in a fresh root scope that drops its local-variable getter,
    so non-chief workers would wait forever for a global step that only they can initialise.
    """
    return tf.get_variable("global_step", [], tf.int64, tf.zeros_initializer(), trainable=False,
                           collections=[tf.GraphKeys.LOCAL_VARIABLES, tf.GraphKeys.GLOBAL_STEP])


def byte_size_load_fn(op):
    """Load of a variable op for ps placement: the byte size of its first output (0 if unknown)."""
    shape = op.outputs[0].get_shape()
    if not shape.is_fully_defined():
        return 0
    dtype = tf.as_dtype(op.get_attr("dtype")) if "dtype" in op.node_def.attr else op.outputs[0].dtype
    return shape.num_elements() * dtype.base_dtype.size


class GreedyLoadBalancingStrategy(object):
    """Place each variable on the ps task with the least load so far (ties: lowest index)."""

    def __init__(self, num_tasks, load_fn):
        self._load_fn = load_fn
        self._loads = [0] * num_tasks

    def __call__(self, op):
        task = min(range(len(self._loads)), key=lambda i: (self._loads[i], i))
        self._loads[task] += self._load_fn(op)
        return task


class _TF1Namespace(types.ModuleType):
    """``tf.compat.v1`` with a ``contrib.training`` holding the ps load balancer TensorPack expects."""

    def __init__(self):
        super(_TF1Namespace, self).__init__("tf1_for_tensorpack")
        self.contrib = types.SimpleNamespace(training=types.SimpleNamespace(
            GreedyLoadBalancingStrategy=GreedyLoadBalancingStrategy, byte_size_load_fn=byte_size_load_fn))

    def __getattr__(self, name):
        return getattr(tf, name)


@contextlib.contextmanager
def tf1_names_for_tensorpack():
    """Inside: TensorPack's distributed builder and session creator see TF1 names (restored on exit)."""
    modules = [tp_builder_module, tp_session_module]
    saved = [m.tf for m in modules]
    namespace = _TF1Namespace()
    for m in modules:
        m.tf = namespace
    try:
        yield
    finally:
        for m, old in zip(modules, saved):
            m.tf = old


class AveragingReplicatedBuilder(DistributedReplicatedBuilder):
    """TensorPack 0.11's distributed replicated builder with two fixes.

    It applies the tower-AVERAGED gradients to the ps (0.11's ``build`` zips the raw per-tower gradient lists
    with the variables, which fails for one tower and mismatches them for several), and it puts barriers
    around the initial ps -> tower copy.
    """

    def build(self, get_grad_fn, get_opt_fn):
        """Return (train op, initial ps -> towers sync op, model-variable sync op or None)."""
        if tf.train.get_global_step() is None:
            create_local_global_step()
        get_opt_fn = memoized(get_opt_fn)
        get_opt_fn()  # the optimizer's variables (learning rate) are made outside the towers
        grad_list = DataParallelBuilder.build_on_towers(self.towers, get_grad_fn, devices=self.raw_devices,
                                                        use_vs=[True] * len(self.towers))
        DataParallelBuilder._check_grad_list(grad_list)
        all_grads, all_vars = split_grad_list(grad_list)
        averaged = allreduce_grads_naive(all_grads, devices=self.raw_devices)
        with tf.device(self.param_server_device):
            ps_var_grads = self._apply_shadow_vars(list(zip(averaged, all_vars[0])))
            var_update_ops = self._apply_gradients_and_copy(get_opt_fn(), grad_list, ps_var_grads)
            self._shadow_vars = [v for _, v in ps_var_grads]
            self._shadow_model_vars = self._shadow_model_variables(self._shadow_vars)
        main_fetch = tf.group(*var_update_ops, name="main_fetches")
        train_op = self._add_sync_queues_and_barrier("post_copy_barrier", [main_fetch])
        # 0.11 copies ps -> towers with no barrier, so a late worker could copy after another worker's first
        # update (or before the chief restored a checkpoint): wait for all workers before and after the copy
        ready = self._add_sync_queues_and_barrier("before_initial_sync", [])
        with tf.control_dependencies([ready]), tf.name_scope("initial_sync_variables"):
            copy_op = self._get_initial_sync_op()
        initial_sync_op = self._add_sync_queues_and_barrier("after_initial_sync", [copy_op])
        model_sync_op = None
        if self._shadow_model_vars and self.is_chief:
            with tf.name_scope("sync_model_variables"):
                model_sync_op = self._get_sync_model_vars_op()
        return train_op, initial_sync_op, model_sync_op


def make_distributed_trainer(kind, towers, server):
    """TensorPack's ``DistributedTrainerReplicated`` (``kind="replicated"``, with the averaging fix above) or
    ``DistributedTrainerParameterServer`` (``"ps"``). Build it (and train) inside ``tf1_names_for_tensorpack()``.
    """
    if kind == "replicated":
        trainer = DistributedTrainerReplicated(list(towers), server)
        trainer._builder = AveragingReplicatedBuilder(list(towers), server)
        return trainer
    if kind == "ps":
        return DistributedTrainerParameterServer(list(towers), server, caching_device="cpu")
    raise ValueError("--trainer %r: expected 'replicated' or 'ps'" % kind)
