"""Trainer launch (common/train.py): towers, LR schedule, post_step, NaN guard, resume, bad input.

Also runnable as a script (``python tests/test_train.py --logdir D [--kill_at_step K]``): the tiny job that the
kill-and-resume test starts in a subprocess.
"""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from common.tf1 import tf  # noqa: E402
from common import cli, devices, resume, schedules, train  # noqa: E402
from tensorpack import Callback, ModelDesc  # noqa: E402

DIM, N, LR0, MOMENTUM = 3, 32, 0.05, 0.9
W0 = np.array([[0.3], [-0.2], [0.1]], np.float32)


def toy_data(seed=0, nan_rows=()):
    """Rows (x, y, index) of a noisy linear problem; ``nan_rows`` get y = NaN."""
    rng = np.random.RandomState(seed)
    x = rng.randn(N, DIM).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.1 * rng.randn(N)).astype(np.float32)
    y[list(nan_rows)] = np.nan
    return x, y, np.arange(N, dtype=np.int64)


def toy_dataset(batch, nan_rows=(), dim=DIM):
    """Infinite, unshuffled stream of per-tower batches of ``toy_data`` (first ``dim`` features)."""
    x, y, index = toy_data(nan_rows=nan_rows)
    return lambda: tf.data.Dataset.from_tensor_slices((x[:, :dim], y, index)).repeat().batch(
        batch, drop_remainder=True)


class TinyRegression(ModelDesc):
    """pred = x W + b, mean squared error, momentum SGD on the rate ``launch_train`` hands over."""

    def __init__(self, dim=DIM):
        self.dim = dim

    def inputs(self):
        return [tf.TensorSpec([None, self.dim], tf.float32, "x"), tf.TensorSpec([None], tf.float32, "y"),
                tf.TensorSpec([None], tf.int64, "index")]

    def build_graph(self, x, y, index):
        w = tf.get_variable("W", initializer=W0[:self.dim])
        b = tf.get_variable("b", [1], initializer=tf.zeros_initializer())
        pred = tf.squeeze(tf.matmul(x, w), 1) + b
        tf.identity(index, name="bank_index")
        return tf.reduce_mean(tf.square(pred - y), name="total_cost")

    def optimizer(self, lr):
        return tf.train.MomentumOptimizer(lr, MOMENTUM)


def bank_post_step(trainer):
    """Count every index of the global batch in ``seen``, snapshot W after the update, count steps."""
    idx = train.gather_from_towers(trainer, "bank_index")
    with tf.variable_scope(tf.VariableScope(tf.AUTO_REUSE, name="bank")):
        seen = tf.get_variable("seen", [N], tf.int32, tf.zeros_initializer(), trainable=False)
        snap = tf.get_variable("w_after", [DIM, 1], tf.float32, tf.zeros_initializer(), trainable=False)
        steps = tf.get_variable("post_steps", [], tf.int64, tf.zeros_initializer(), trainable=False)
    w = tf.get_default_graph().get_tensor_by_name("W:0")
    return tf.group(tf.scatter_add(seen, idx, tf.ones_like(idx, tf.int32)), tf.assign(snap, w),
                    tf.assign_add(steps, 1))


def numpy_sgd(steps, batch, steps_per_epoch, lr_schedule):
    """Independent momentum-SGD reference on consecutive batches of ``batch`` rows (LR set after each epoch)."""
    x, y, _ = toy_data()
    w, b = W0.astype(np.float64).copy(), np.zeros(1)
    acc_w, acc_b = np.zeros_like(w), np.zeros_like(b)
    lr = LR0
    for step in range(steps):
        lr = dict(lr_schedule).get(step // steps_per_epoch, lr) if step % steps_per_epoch == 0 else lr
        rows = np.arange(step * batch, (step + 1) * batch) % N
        err = x[rows] @ w[:, 0] + b - y[rows]
        gw = 2.0 / batch * x[rows].T @ err
        gb = np.array([2.0 / batch * err.sum()])
        acc_w, acc_b = MOMENTUM * acc_w + gw[:, None], MOMENTUM * acc_b + gb
        w, b = w - lr * acc_w, b - lr * acc_b
    return w, b


def read_checkpoint(logdir):
    path = tf.train.latest_checkpoint(logdir)
    reader = tf.train.load_checkpoint(path)
    return path, {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)}


def run_tiny(logdir, towers, batch, trainer="replicated", max_epoch=2, steps_per_epoch=2, **kw):
    kw.setdefault("lr_schedule", schedules.LearningRate(LR0))
    with tf.Graph().as_default():
        dim = kw.pop("dim", DIM)
        train.launch_train(kw.pop("model_class", TinyRegression)(dim), toy_dataset(batch, kw.pop("nan_rows", ()), dim),
                           str(logdir), steps_per_epoch, max_epoch, towers, trainer=trainer, **kw)


SCHEDULE = [(1, 0.02)]


def epoch_schedule():
    return schedules.EpochSchedule(LR0, SCHEDULE)


@pytest.mark.parametrize("trainer", ["replicated", "ps"])
def test_two_cpu_towers_match_one_tower_with_double_batch(tmp_path, trainer):
    b = 4
    run_tiny(tmp_path / "one", train.Towers([0], on_cpu=True), 2 * b, lr_schedule=epoch_schedule(),
             post_step=bank_post_step, experiment="tiny")
    run_tiny(tmp_path / "two", train.Towers([0, 1], on_cpu=True), b, trainer=trainer, lr_schedule=epoch_schedule(),
             post_step=bank_post_step, experiment="tiny")
    path1, one = read_checkpoint(str(tmp_path / "one"))
    path2, two = read_checkpoint(str(tmp_path / "two"))
    assert os.path.basename(path1) == os.path.basename(path2) == "model-4"
    w_ref, b_ref = numpy_sgd(4, 2 * b, 2, SCHEDULE)
    for got in (one, two):
        np.testing.assert_allclose(got["W"], w_ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got["b"], b_ref, rtol=1e-5, atol=1e-6)
        assert got["global_step"] == 4 and got["bank/post_steps"] == 4
        np.testing.assert_array_equal(got["bank/seen"], np.ones(N))  # 4 steps x 8 rows: every index once
        np.testing.assert_allclose(got["bank/w_after"], got["W"])  # post_step ran after this step's update
        assert got["learning_rate"] == pytest.approx(SCHEDULE[-1][1])
    np.testing.assert_allclose(one["W"], two["W"], rtol=1e-6, atol=1e-7)
    stats = json.load(open(str(tmp_path / "two" / "stats.json")))
    assert [s["epoch_num"] for s in stats] == [1, 2] and stats[-1]["global_step"] == 4
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(str(tmp_path / "two")))


class BankRegression(TinyRegression):
    """The tiny regression plus a shared memory bank of the unit-normalised inputs (a "bank_feature" tensor)."""

    def build_graph(self, x, y, index):
        from common.memory_bank import MemoryBank
        self.bank = MemoryBank("instance", N, self.dim, momentum=0.5, init="zeros")
        tf.identity(tf.nn.l2_normalize(x, axis=1), name="bank_feature")
        return super(BankRegression, self).build_graph(x, y, index)


def bank_update_post_step(trainer):
    """Update the bank with the global batch: indices and features of all towers."""
    from common.memory_bank import MemoryBank
    return MemoryBank("instance", N, DIM, momentum=0.5, init="zeros").update_op(
        train.gather_from_towers(trainer, "bank_index"), train.gather_from_towers(trainer, "bank_feature"))


def test_memory_bank_shared_by_towers_gets_every_towers_rows(tmp_path):
    """Replicated towers: tower 1 reads its own copy of the bank (a local variable on its device), kept equal to
    the saved one by the update; the checkpoint holds one bank with every tower's rows."""
    seen = {}

    class RecordCopies(Callback):
        def _setup_graph(self):
            self.copies = [v for v in tf.local_variables() if "memory_bank" in v.op.name]
            self.shared = tf.get_default_graph().get_tensor_by_name("instance/memory_bank:0")

        def _trigger_step(self):  # step 3: the first of epoch 2, the copies were last broadcast before it
            if self.global_step == 3:
                seen["copies"] = {v.op.name: (v.device, self.trainer.sess.run(v)) for v in self.copies}
                seen["shared"] = self.trainer.sess.run(self.shared)

    run_tiny(tmp_path, train.Towers([0, 1], on_cpu=True), 4, model_class=BankRegression,
             post_step=bank_update_post_step, callbacks=[RecordCopies()])
    _, values = read_checkpoint(str(tmp_path))
    x, _, _ = toy_data()
    # 2 epochs x 2 steps x 2 towers x 4 rows = all 32 rows, each updated once from zeros: v = x / |x|
    want = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(values["instance/memory_bank"], want, rtol=1e-5, atol=1e-6)
    assert [n for n in values if "memory_bank" in n] == ["instance/memory_bank"]
    [(name, (device, copy))] = seen["copies"].items()
    assert name == "tower1/instance/memory_bank" and device.endswith("CPU:1")
    np.testing.assert_array_equal(copy, seen["shared"])
    np.testing.assert_allclose(copy[16:24], want[16:24], rtol=1e-5, atol=1e-6)  # step 3's rows, by the update


class TinyConvBN(ModelDesc):
    """conv -> BatchNorm -> global pool -> linear, softmax loss: exercises BN EMA updates in several towers."""

    def inputs(self):
        return [tf.TensorSpec([None, 6, 6, 2], tf.float32, "image"), tf.TensorSpec([None], tf.int64, "label")]

    def build_graph(self, image, label):
        from tensorpack import BatchNorm, Conv2D, FullyConnected, GlobalAvgPooling
        x = BatchNorm("bn", Conv2D("conv", image, 4, 3, activation=tf.identity))
        logits = FullyConnected("fc", GlobalAvgPooling("gap", tf.nn.relu(x)), 3)
        return tf.losses.sparse_softmax_cross_entropy(label, logits)

    def optimizer(self):
        return tf.train.GradientDescentOptimizer(0.1)


def test_batchnorm_model_trains_on_two_cpu_towers(tmp_path):
    rng = np.random.RandomState(1)
    images, labels = rng.randn(16, 6, 6, 2).astype(np.float32), rng.randint(0, 3, 16).astype(np.int64)
    with tf.Graph().as_default():
        train.launch_train(TinyConvBN(), lambda: tf.data.Dataset.from_tensor_slices((images, labels)).repeat()
                           .batch(4, drop_remainder=True), str(tmp_path), 2, 1, train.Towers([0, 1], on_cpu=True))
    _, values = read_checkpoint(str(tmp_path))
    # tower 0 updates the EMA: it moved away from its initial value (mean 0) and stays finite
    assert np.all(np.isfinite(values["bn/mean/EMA"])) and np.abs(values["bn/mean/EMA"]).max() > 0
    assert values["global_step"] == 2 and not [n for n in values if n.startswith("tower1")]


def test_towers_are_placed_on_cpu_devices(tmp_path):
    placed = {}

    class RecordDevices(Callback):
        def _setup_graph(self):
            placed.update({v.op.name: v.device for v in tf.global_variables() + tf.local_variables()})

    run_tiny(tmp_path, train.Towers([0, 1], on_cpu=True), 2, max_epoch=1, steps_per_epoch=1,
             callbacks=[RecordDevices()])
    assert placed["W"].endswith("CPU:0") and placed["tower1/W"].endswith("CPU:1")


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tmp_path):
    # batch 4, 2 steps/epoch: step 3 reads rows 8..11, one of which has y = NaN
    with pytest.raises(FloatingPointError, match="loss became NaN/inf at global step 3; stopped, the last finite "
                                                 "checkpoint %s is kept" % (tmp_path / "model-2")):
        run_tiny(tmp_path, train.Towers([0], on_cpu=True), 4, max_epoch=3, nan_rows=[9])
    path, values = read_checkpoint(str(tmp_path))
    assert os.path.basename(path) == "model-2"
    assert np.all(np.isfinite(values["W"])) and values["global_step"] == 2
    w_ref, _ = numpy_sgd(2, 4, 2, [])
    np.testing.assert_allclose(values["W"], w_ref, rtol=1e-5, atol=1e-6)


def test_logdir_of_another_experiment_is_refused_and_left_untouched(tmp_path):
    run_tiny(tmp_path, train.Towers([0], on_cpu=True), 4, max_epoch=1, experiment={"model": "tiny", "lr": 1})
    # log.log may still receive this process's log lines (append only); everything else must stay as it was
    before = {f: os.path.getmtime(str(tmp_path / f)) for f in os.listdir(str(tmp_path)) if f != "log.log"}
    log_before = open(str(tmp_path / "log.log")).read()
    with pytest.raises(ValueError, match="another experiment's run: lr: 1 in experiment.json, 2 here"):
        run_tiny(tmp_path, train.Towers([0], on_cpu=True), 4, max_epoch=2, experiment={"model": "tiny", "lr": 2})
    with pytest.raises(ValueError, match=r"holds a checkpoint of another experiment.*'W' has shape \[3, 1\] there"):
        run_tiny(tmp_path, train.Towers([0], on_cpu=True), 4, max_epoch=2, dim=2)
    assert {f: os.path.getmtime(str(tmp_path / f)) for f in os.listdir(str(tmp_path)) if f != "log.log"} == before
    assert open(str(tmp_path / "log.log")).read().startswith(log_before)


class KillAtStep(Callback):
    """SIGKILL this process once the global step reaches ``step`` (a hard, mid-epoch crash)."""

    def __init__(self, step):
        self.step = step

    def _trigger_step(self):
        if self.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_killed_run_resumes_with_non_trainable_state(tmp_path):
    cmd = [sys.executable, os.path.abspath(__file__), "--logdir", str(tmp_path)]
    first = subprocess.run(cmd + ["--kill_at_step", "5"], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    assert first.returncode == -signal.SIGKILL, first.stdout[-2000:]
    assert os.path.basename(tf.train.latest_checkpoint(str(tmp_path))) == "model-4"
    second = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:]
    assert "model-4 at epoch 3" in second.stdout
    _, values = read_checkpoint(str(tmp_path))
    assert values["global_step"] == 8
    assert values["bank/post_steps"] == 8  # 4 restored + 4 run after the restart: non-trainable state kept
    stats = json.load(open(str(tmp_path / "stats.json")))
    assert [s["epoch_num"] for s in stats] == [1, 2, 3, 4]
    assert [s["global_step"] for s in stats] == [2, 4, 6, 8]


def test_relative_logdir_registers_loadable_checkpoints(tmp_path, monkeypatch):
    """The checkpoint file names ``model-N`` relative to the log directory, also when that is given relative."""
    monkeypatch.chdir(tmp_path)
    run_tiny(os.path.join("runs", "rel"), train.Towers([0], on_cpu=True), 4, max_epoch=1)
    state = open(os.path.join("runs", "rel", "checkpoint")).read()
    assert 'model_checkpoint_path: "model-2"' in state and ".." not in state
    assert resume.latest_checkpoint(os.path.join("runs", "rel")) == os.path.join("runs", "rel", "model-2")


def main():
    """The tiny resumable job of the kill test: 4 epochs x 2 steps on one CPU tower."""
    parser = cli.make_parser([])
    parser.add_argument("--kill_at_step", type=int, default=0)
    args = parser.parse_args()
    towers = devices.setup_devices(args)
    extra = [KillAtStep(args.kill_at_step)] if args.kill_at_step else []
    run_tiny(args.logdir, towers, 4, max_epoch=4, post_step=bank_post_step, callbacks=extra,
             experiment="tiny-resume")


if __name__ == "__main__":
    main()
