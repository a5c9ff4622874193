"""common.memory_bank against numpy: init, gather, momentum update, sharing across towers, checkpoints."""
import numpy as np
import pytest
from tensorpack import ModelDesc

from common.memory_bank import BankRows, LabelBank, MemoryBank, uniform_init_bound, update_from_towers
from common.tf1 import tf
from common.train import Towers, launch_train


def _np_update(bank, idx, feats, m):
    out = bank.copy()
    v = m * bank[idx] + (1 - m) * feats
    out[idx] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def test_init_bound_and_statistics():
    assert uniform_init_bound(128) == pytest.approx(0.15309311, abs=1e-8)
    with tf.Graph().as_default(), tf.Session() as sess:
        bank = MemoryBank("instance", 4000, 128, seed=0)
        sess.run(tf.global_variables_initializer())
        values = sess.run(bank.var)
    assert bank.var.op.name == "instance/memory_bank"
    assert values.shape == (4000, 128) and values.dtype == np.float32
    assert np.abs(values).max() <= uniform_init_bound(128)
    assert np.abs(values).max() > 0.99 * uniform_init_bound(128)
    sq = (values ** 2).sum(axis=1)
    assert abs(sq.mean() - 1.0) < 0.02 and sq.std() > 0.05  # unit norm only in expectation


def test_seeded_init_is_reproducible_and_not_trainable():
    vals = []
    for _ in range(2):
        with tf.Graph().as_default(), tf.Session() as sess:
            bank = MemoryBank("instance", 50, 8, seed=0)
            assert not tf.trainable_variables() and bank.var in tf.global_variables()
            sess.run(tf.global_variables_initializer())
            vals.append(sess.run(bank.var))
    np.testing.assert_array_equal(vals[0], vals[1])


def test_spec_worked_update_example():
    with tf.Graph().as_default(), tf.Session() as sess:
        bank = MemoryBank("b", 3, 2, momentum=0.5, init="zeros")
        sess.run(tf.global_variables_initializer())
        bank.var.load(np.array([[1, 0], [0, 1], [1, 1]], np.float32), sess)
        sess.run(bank.update_op([0], [[0.0, 1.0]]))
        got = sess.run(bank.var)
    np.testing.assert_allclose(got[0], [0.70710678, 0.70710678], rtol=1e-6)
    np.testing.assert_array_equal(got[1:], [[0, 1], [1, 1]])


def test_gather_update_and_dot_match_numpy_on_random_inputs():
    rng = np.random.RandomState(0)
    n, d, m = 40, 16, 0.3
    start = rng.randn(n, d).astype(np.float32)
    idx = rng.choice(n, 12, replace=False).astype(np.int64)
    feats = rng.randn(12, d).astype(np.float32)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    with tf.Graph().as_default(), tf.Session() as sess:
        bank = MemoryBank("b", n, d, momentum=m)
        idx_ph = tf.placeholder(tf.int64, [None])
        f_ph = tf.placeholder(tf.float32, [None, d])
        gathered, dots = bank.gather(idx_ph), bank.all_dot(f_ph)
        update = bank.update_op(idx_ph, f_ph)
        sess.run(tf.global_variables_initializer())
        bank.var.load(start, sess)
        g, dt = sess.run([gathered, dots], {idx_ph: idx, f_ph: feats})
        sess.run(update, {idx_ph: idx, f_ph: feats})
        got = sess.run(bank.var)
    np.testing.assert_allclose(g, start[idx], rtol=1e-6)
    np.testing.assert_allclose(dt, feats @ start.T, rtol=1e-4, atol=1e-5)
    expected = _np_update(start, idx, feats, m)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    untouched = np.setdiff1d(np.arange(n), idx)
    np.testing.assert_array_equal(got[untouched], start[untouched])
    np.testing.assert_allclose(np.linalg.norm(got[idx], axis=1), 1.0, rtol=1e-5)


def test_update_carries_no_gradient():
    with tf.Graph().as_default():
        bank = MemoryBank("b", 10, 4)
        w = tf.get_variable("w", [3, 4])
        update = bank.update_op([1, 2, 3], w)
        loss = tf.reduce_sum(bank.gather([1, 2, 3]) * w)
        assert tf.gradients(loss, bank.var) == [None]
        assert update.type in ("ScatterUpdate", "ResourceScatterUpdate")


def test_towers_share_one_bank_and_one_update_covers_all_towers():
    """Two towers (separate variable scopes, as TensorPack's replicated trainer builds them) get one bank;
    the gathered indices/features of both update it once."""
    rng = np.random.RandomState(1)
    n, d = 20, 8
    feats = [rng.randn(3, d).astype(np.float32) for _ in range(2)]
    idx = [np.array([0, 5, 7]), np.array([2, 15, 19])]
    with tf.Graph().as_default(), tf.Session() as sess:
        banks, labels = [], []
        for k in range(2):
            with tf.name_scope("tower%d" % k), tf.variable_scope("tower%d" % k if k else ""):
                banks.append(MemoryBank("instance", n, d))
                labels.append(LabelBank("instance", n))
        assert banks[0].var is banks[1].var and labels[0].var is labels[1].var
        assert [v.op.name for v in tf.global_variables()] == ["instance/memory_bank", "instance/all_labels"]
        all_idx = tf.concat([tf.constant(i) for i in idx], 0)
        all_f = tf.concat([tf.constant(f) for f in feats], 0)
        step = tf.group(banks[1].update_op(all_idx, all_f), labels[1].update_op(all_idx, all_idx * 10))
        sess.run(tf.global_variables_initializer())
        start = sess.run(banks[0].var)
        sess.run(step)
        got, got_labels = sess.run([banks[0].var, labels[0].var])
    cat_idx, cat_f = np.concatenate(idx), np.concatenate(feats)
    np.testing.assert_allclose(got, _np_update(start, cat_idx, cat_f, 0.5), rtol=1e-5, atol=1e-6)
    expected_labels = np.zeros(n, np.int64)
    expected_labels[cat_idx] = cat_idx * 10
    np.testing.assert_array_equal(got_labels, expected_labels)


def test_bank_is_saved_in_checkpoints(tmp_path):
    ckpt = str(tmp_path / "model")
    with tf.Graph().as_default(), tf.Session() as sess:
        bank, labels = MemoryBank("instance", 6, 3, init="zeros"), LabelBank("instance", 6)
        sess.run(tf.global_variables_initializer())
        sess.run([bank.update_op([4], [[3.0, 0, 4.0]]), labels.update_op([4], [7])])
        saved = sess.run(bank.var)
        tf.train.Saver().save(sess, ckpt)
    with tf.Graph().as_default(), tf.Session() as sess:
        bank, labels = MemoryBank("instance", 6, 3), LabelBank("instance", 6)
        tf.train.Saver().restore(sess, ckpt)
        restored, restored_labels = sess.run([bank.var, labels.var])
    np.testing.assert_array_equal(restored, saved)
    np.testing.assert_allclose(restored[4], [0.6, 0, 0.8], rtol=1e-6)
    assert restored_labels[4] == 7


def test_out_of_range_indices_give_clear_errors():
    with tf.Graph().as_default(), tf.Session() as sess:
        bank = MemoryBank("instance", 5, 2)
        with pytest.raises(ValueError, match=r"instance/memory_bank: index 5 out of range \[0, 5\)"):
            bank.gather([0, 5])
        ph = tf.placeholder(tf.int64, [None])
        update = bank.update_op(ph, tf.ones([2, 2]))
        sess.run(tf.global_variables_initializer())
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"instance/memory_bank: index out of range"):
            sess.run(update, {ph: [1, 9]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
            sess.run(bank.gather(ph), {ph: [-1]})
    with pytest.raises(ValueError, match="init must be"):
        MemoryBank("x", 5, 2, init="normal")


class _BankModel(ModelDesc):
    """Features normalize(x W) (W frozen by lr 0), a loss reading the bank; its rows returned as ``BankRows``."""

    def inputs(self):
        return [tf.TensorSpec([None, 4], tf.float32, "x"), tf.TensorSpec([None], tf.int64, "index")]

    def build_graph(self, x, index):
        w = tf.get_variable("W", initializer=np.eye(4, dtype=np.float32))
        feats = tf.nn.l2_normalize(tf.matmul(x, w), axis=1)
        bank = MemoryBank("instance", 16, 4, seed=0)
        return BankRows(-tf.reduce_mean(tf.reduce_sum(feats * bank.gather(index), 1)), bank, index, feats)

    def optimizer(self):
        return tf.train.GradientDescentOptimizer(0.0)


@pytest.mark.parametrize("trainer", ["replicated", "ps"])
def test_two_cpu_towers_update_the_bank_once_per_step(tmp_path, trainer):
    """launch_train with 2 CPU towers x 2 samples, 2 steps: the towers' ``BankRows`` gathered, indices 0..7
    updated exactly once, 8..15 untouched, one bank in the checkpoint."""
    x = np.random.RandomState(5).randn(16, 4).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        bank = MemoryBank("instance", 16, 4, seed=0)
        sess.run(bank.var.initializer)
        init = sess.run(bank.var)
    with tf.Graph().as_default():
        data = lambda: tf.data.Dataset.from_tensor_slices((x, np.arange(16))).repeat().batch(2)  # noqa: E731
        launch_train(_BankModel(), data, str(tmp_path), 2, 1, Towers([0, 1], on_cpu=True), trainer=trainer)
    path = tf.train.latest_checkpoint(str(tmp_path))
    assert path.endswith("model-2")
    names = [n for n, _ in tf.train.list_variables(path)]
    assert [n for n in names if "memory_bank" in n] == ["instance/memory_bank"]
    got = tf.train.load_checkpoint(path).get_tensor("instance/memory_bank")
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    expected = _np_update(init, np.arange(8), unit[:8], 0.5)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_update_from_towers_writes_the_global_batch_with_labels_and_extra():
    rng = np.random.RandomState(7)
    feats = [rng.randn(3, 4).astype(np.float32) for _ in range(2)]
    feats = [f / np.linalg.norm(f, axis=1, keepdims=True) for f in feats]
    idx, labels = [np.array([4, 0, 9]), np.array([2, 7, 5])], [np.array([1, 2, 3]), np.array([4, 5, 6])]
    with tf.Graph().as_default(), tf.Session() as sess:
        bank, label_bank = MemoryBank("b", 10, 4, seed=1), LabelBank("b", 10)
        seen = tf.get_variable("seen", [], tf.float32, tf.zeros_initializer())
        rows = [BankRows(tf.constant(0.0), bank, tf.constant(i), tf.constant(f), label_bank, tf.constant(y),
                         (tf.constant([float(k + 1)]), lambda all_: tf.assign(seen, tf.reduce_sum(all_))))
                for k, (i, f, y) in enumerate(zip(idx, feats, labels))]
        sess.run(tf.global_variables_initializer())
        before = sess.run(bank.var)
        sess.run(update_from_towers(rows))
        after, got_labels, got_seen = sess.run([bank.var, label_bank.var, seen])
    all_idx, all_feats = np.concatenate(idx), np.concatenate(feats)
    np.testing.assert_allclose(after, _np_update(before, all_idx, all_feats, 0.5), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got_labels[all_idx], np.concatenate(labels))
    assert got_seen == 3.0  # the extra tensors of both towers, concatenated in tower order
