"""Several machines (common/distributed.py): cluster flags / TF_CONFIG, ps placement, 2 workers + 1 ps on 127.0.0.1.

Also runnable as a script (``python tests/test_distributed.py --logdir D --out F --ps_hosts ... --job_name ...``):
one process of the cluster test, training the tiny regression of test_train.py with plain SGD.
"""
import argparse
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_train import ROOT, TinyRegression, W0, toy_data  # noqa: E402

from common.tf1 import tf  # noqa: E402
from common import cli, devices, distributed, train  # noqa: E402
from tensorpack import Callback  # noqa: E402

LR, BATCH, STEPS_PER_EPOCH, EPOCHS = 0.05, 4, 2, 2


class TinySGD(TinyRegression):
    """The tiny regression with plain locked SGD: each worker's update lands on the ps exactly once."""

    def optimizer(self):
        lr = tf.get_variable("learning_rate", initializer=LR, trainable=False)
        return tf.train.GradientDescentOptimizer(lr, use_locking=True)


def numpy_two_worker_sgd(steps, workers=2):
    """Reference: every step, each worker's gradient (on its own shard) is applied to the shared weights."""
    x, y, _ = toy_data()
    w, b = W0[:, 0].astype(np.float64), 0.0
    for step in range(steps):
        gw, gb = np.zeros_like(w), 0.0
        for k in range(workers):
            shard = np.arange(k, len(y), workers)
            rows = shard[np.arange(step * BATCH, (step + 1) * BATCH) % len(shard)]
            err = x[rows] @ w + b - y[rows]
            gw, gb = gw + 2.0 / BATCH * x[rows].T @ err, gb + 2.0 / BATCH * err.sum()
        w, b = w - LR * gw, b - LR * gb
    return w, b


def test_cluster_from_flags_and_tf_config():
    parser = devices.add_device_args(argparse.ArgumentParser())
    args = parser.parse_args(["--ps_hosts", "a:1", "--worker_hosts", "a:2,b:2", "--job_name", "worker",
                              "--task_index", "1"])
    c = distributed.cluster_from_args(args, environ={})
    assert c == distributed.Cluster(["a:1"], ["a:2", "b:2"], "worker", 1)
    assert not c.is_chief and c.num_workers == 2
    env = {"TF_CONFIG": json.dumps({"cluster": {"ps": ["p:1"], "worker": ["w:1"]},
                                    "task": {"type": "worker", "index": 0}})}
    c = distributed.cluster_from_args(parser.parse_args([]), environ=env)
    assert c.is_chief and c.ps == ["p:1"]
    assert distributed.cluster_from_args(parser.parse_args([]), environ={}) is None
    with pytest.raises(ValueError, match="--task_index 2"):
        distributed.cluster_from_args(parser.parse_args(["--ps_hosts", "a:1", "--worker_hosts", "a:2,b:2",
                                                         "--job_name", "worker", "--task_index", "2"]), {})
    with pytest.raises(ValueError, match="--worker_hosts: 'nohost' is not host:port"):
        distributed.cluster_from_args(parser.parse_args(["--ps_hosts", "a:1", "--worker_hosts", "nohost",
                                                         "--job_name", "worker", "--task_index", "0"]), {})
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distributed.cluster_from_args(parser.parse_args([]), environ={"TF_CONFIG": "{\"task\": 1}"})


def test_greedy_load_balancing_matches_numpy():
    sizes = np.random.RandomState(3).randint(1, 50, size=(12, 2))
    with tf.Graph().as_default():
        ops = [tf.Variable(tf.zeros([int(r), int(c)]), name="v%d" % i).op for i, (r, c) in enumerate(sizes)]
        strategy = distributed.GreedyLoadBalancingStrategy(3, distributed.byte_size_load_fn)
        got = [strategy(op) for op in ops]
    loads, want = np.zeros(3), []
    for r, c in sizes:
        task = int(np.argmin(loads))  # first minimum = lowest index on ties
        loads[task] += r * c * 4
        want.append(task)
    assert got == want


def test_tf1_names_are_restored():
    from tensorpack.graph_builder import distributed as builder_module
    before = builder_module.tf
    with distributed.tf1_names_for_tensorpack():
        assert builder_module.tf.train.replica_device_setter is tf.train.replica_device_setter
        assert builder_module.tf.contrib.training.GreedyLoadBalancingStrategy is \
            distributed.GreedyLoadBalancingStrategy
    assert builder_module.tf is before


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _run_workers(tmp_path, common, tag, extra=()):
    """Start both workers, wait for them, return their JSON dumps."""
    procs = []
    try:
        for i in range(2):
            log = open(str(tmp_path / ("%s_w%d.txt" % (tag, i))), "w")
            procs.append(subprocess.Popen(common + ["--job_name", "worker", "--task_index", str(i), "--out",
                                                    str(tmp_path / ("%s_w%d.json" % (tag, i)))] + list(extra),
                                          cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
        for i, p in enumerate(procs):
            assert p.wait(timeout=240) == 0, open(str(tmp_path / ("%s_w%d.txt" % (tag, i)))).read()[-3000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return [json.load(open(str(tmp_path / ("%s_w%d.json" % (tag, i))))) for i in range(2)]


def _check_workers(results, steps):
    w_ref, b_ref = numpy_two_worker_sgd(steps)
    for r in results:
        assert r["global_step"] == steps
        np.testing.assert_allclose(np.ravel(r["W"]), np.ravel(r["tower0/W"]), rtol=1e-6)
        np.testing.assert_allclose(np.ravel(r["W"]), w_ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.ravel(r["b"]), [b_ref], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results[0]["tower0/W"], results[1]["tower0/W"], rtol=1e-6)


@pytest.mark.slow
def test_two_workers_and_one_ps_agree_and_resume(tmp_path):
    ps_port, w0, w1 = _free_ports(3)
    common = [sys.executable, os.path.abspath(__file__), "--logdir", str(tmp_path / "log"),
              "--ps_hosts", "127.0.0.1:%d" % ps_port, "--worker_hosts", "127.0.0.1:%d,127.0.0.1:%d" % (w0, w1)]
    ps = subprocess.Popen(common + ["--job_name", "ps", "--task_index", "0"], cwd=ROOT,
                          stdout=open(str(tmp_path / "ps.txt"), "w"), stderr=subprocess.STDOUT)
    try:
        _check_workers(_run_workers(tmp_path, common, "first"), STEPS_PER_EPOCH * EPOCHS)
        assert os.path.basename(tf.train.latest_checkpoint(str(tmp_path / "log"))) == "model-4"
        # relaunch with one more epoch: the chief restores model-4, both workers continue at step 4
        # (the input restarts, but 4 steps are exactly one pass over each worker's shard)
        _check_workers(_run_workers(tmp_path, common, "resumed", ["--epochs", str(EPOCHS + 1)]),
                       STEPS_PER_EPOCH * (EPOCHS + 1))
    finally:
        ps.kill()
        ps.wait()
    assert os.path.basename(tf.train.latest_checkpoint(str(tmp_path / "log"))) == "model-6"


class DumpVariables(Callback):
    """After training, write this worker's global step, ps variables and local tower copies to JSON."""

    _chief_only = False

    def __init__(self, path):
        self.path = path

    def _after_train(self):
        graph = tf.get_default_graph()
        names = [n for n in ["W", "b", "tower0/W", "global_step"] if n + ":0" in
                 {t.name for op in graph.get_operations() for t in op.outputs}]
        values = self.trainer.sess.run([graph.get_tensor_by_name(n + ":0") for n in names])
        with open(self.path, "w") as f:
            json.dump({n: np.asarray(v).tolist() for n, v in zip(names, values)}, f)


def main():
    """One process of the 2-worker + 1-ps test (workers read shard ``task_index`` of the rows)."""
    parser = cli.make_parser([])
    parser.add_argument("--out", default="")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args()
    towers = devices.setup_devices(args)
    cluster = distributed.cluster_from_args(args)
    x, y, index = toy_data()

    def dataset():
        return tf.data.Dataset.from_tensor_slices((x, y, index)).shard(cluster.num_workers, cluster.task_index)\
            .repeat().batch(BATCH, drop_remainder=True)

    with tf.Graph().as_default():
        train.launch_train(TinySGD(), dataset, args.logdir, STEPS_PER_EPOCH, args.epochs, towers, cluster=cluster,
                           trainer=args.trainer,
                           callbacks=[DumpVariables(args.out)] if args.out else [], experiment="tiny-dist")


if __name__ == "__main__":
    main()
