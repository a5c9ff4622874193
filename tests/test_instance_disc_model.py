"""instance_disc.model: the embedding head and one training step (loss, coupled weight decay, bank update)."""
import numpy as np
import pytest
from tensorpack.tfutils.tower import TowerContext

from common.config import load_config
from common.tf1 import tf
from common.memory_bank import update_from_towers
from instance_disc.model import InstanceDiscModel, backbone_endpoints, embedding, lr_schedule, objective_name
from instance_disc.flags import CONFIG_FILE

N, B, SIZE = 12, 4, 32


def _cfg(**kw):
    cfg = load_config(CONFIG_FILE + ":toy")
    cfg.update(dict(stem="imagenet", nce_k=5, low_dim=8, width=0.25), **kw)
    return cfg


def test_objective_name_follows_the_release_flags():
    assert objective_name({"nce_k": 0, "loss": "nce"}) == "softmax"
    assert objective_name({"nce_k": 4096, "loss": "nce"}) == "nce"
    assert objective_name({"nce_k": 65536, "loss": "softmax_ce"}) == "softmax_ce"


def test_embedding_is_unit_norm_with_torch_default_head_init():
    with tf.Graph().as_default(), tf.Session() as sess:
        f = embedding(tf.random_normal([3, SIZE, SIZE, 3], seed=0), False, _cfg())
        sess.run(tf.global_variables_initializer())
        out, kernel = sess.run([f, tf.global_variables("embed_fc/kernel")[0]])
    assert out.shape == (3, 8)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    bound = 1 / np.sqrt(kernel.shape[0])
    assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.8 * bound


@pytest.mark.parametrize("zero_init", [False, True])
def test_backbone_keeps_every_bn_gamma_at_one_as_the_release(zero_init):
    with tf.Graph().as_default(), tf.Session() as sess:
        backbone_endpoints(tf.zeros([1, SIZE, SIZE, 3]), True, _cfg(zero_init=zero_init))
        sess.run(tf.global_variables_initializer())
        gammas = sess.run([v for v in tf.global_variables() if v.name.endswith("gamma:0")])
    zeroed = sum(int(np.all(g == 0)) for g in gammas)
    assert all(np.all(g == 1) or np.all(g == 0) for g in gammas)
    assert zeroed == (8 if zero_init else 0)  # ResNet-18: one last BN per basic block


def test_cifar_stem_keeps_32px_to_4x4_at_conv5():
    with tf.Graph().as_default():
        ends = backbone_endpoints(tf.zeros([2, 32, 32, 3]), False, _cfg(stem="cifar"))
        assert "pool1" not in ends
        assert ends["conv1"].shape.as_list()[1:3] == [32, 32] and ends["conv5"].shape.as_list()[1:3] == [4, 4]


@pytest.mark.parametrize("loss,nce_k", [("nce", 5), ("nce", 0), ("softmax_ce", 5)])
def test_one_step_updates_only_the_batch_rows_from_pre_update_values(loss, nce_k):
    cfg = _cfg(loss=loss, nce_k=nce_k, lr=0.1, weight_decay=0.01)
    rng = np.random.RandomState(0)
    images = rng.randn(B, SIZE, SIZE, 3).astype(np.float32)
    idx, labels = np.array([5, 0, 11, 7], np.int64), np.array([1, 2, 3, 4], np.int64)
    model = InstanceDiscModel(cfg, N, SIZE)
    with tf.Graph().as_default(), tf.Session() as sess:
        inputs = [tf.constant(images), tf.constant(labels), tf.constant(idx)]
        with TowerContext("", is_training=True):
            rows = model.build_graph(*inputs)
        features = rows.embedding
        assert (rows.extra is not None) == (objective_name(cfg) == "nce")
        opt = model.optimizer(lr_schedule(cfg).create_variable())
        grads = opt.compute_gradients(rows.cost)
        train_op = opt.apply_gradients(grads)
        with tf.control_dependencies([train_op]):
            update = update_from_towers([rows])
        memory, label_bank, z = (tf.global_variables(n)[0] for n in ("instance/memory_bank", "instance/all_labels",
                                                                   "instance/nce_z"))
        assert memory not in [v for _, v in grads] and not memory.trainable
        sess.run(tf.global_variables_initializer())
        before = sess.run(memory)
        weights = tf.trainable_variables()
        w_before = sess.run(weights)
        f, g, _ = sess.run([features, [g for g, _ in grads], update])
        after, w_after, got_labels, z_value = sess.run([memory, weights, label_bank, z])
    want = 0.5 * before[idx] + 0.5 * f
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    np.testing.assert_allclose(after[idx], want, rtol=1e-5, atol=1e-6)
    untouched = np.setdiff1d(np.arange(N), idx)
    np.testing.assert_array_equal(after[untouched], before[untouched])
    np.testing.assert_array_equal(got_labels[idx], labels)
    assert (z_value > 0) == (loss == "nce" and nce_k > 0)
    # coupled weight decay: w -= lr * (g + wd * w), momentum buffer starts at 0
    for w0, w1, grad in zip(w_before, w_after, g):
        np.testing.assert_allclose(w1, w0 - 0.1 * (grad + 0.01 * w0), rtol=1e-4, atol=1e-6)


def test_two_towers_freeze_z_once_from_the_global_first_batch():
    cfg = _cfg(nce_k=5, nce_t=0.2)
    rng = np.random.RandomState(1)
    model = InstanceDiscModel(cfg, N, SIZE)
    with tf.Graph().as_default(), tf.Session() as sess:
        towers, rows = [], []
        for i, idx in enumerate(([5, 0, 11, 7], [1, 2, 3, 4])):
            with tf.variable_scope(tf.get_variable_scope(), reuse=i > 0), TowerContext("tower%d" % i, True):
                rows.append(model.build_graph(tf.constant(rng.randn(B, SIZE, SIZE, 3).astype(np.float32)),
                                              tf.zeros([B], tf.int64), tf.constant(idx, tf.int64)))
            towers.append(["tower%d/%s:0" % (i, name) for name in ("features", "bank_indices")])
        graph = tf.get_default_graph()
        t = {name: graph.get_tensor_by_name(name) for names in towers for name in names}
        update = update_from_towers(rows)
        sess.run(tf.global_variables_initializer())
        bank = sess.run(tf.global_variables("instance/memory_bank")[0])
        got = sess.run(dict(t, update=update))
        z = sess.run(tf.global_variables("instance/nce_z")[0])
    exps = [np.exp(np.einsum("bkd,bd->bk", bank[got[w[1]]], got[w[0]]) / 0.2) for w in towers]
    assert z == pytest.approx(N * np.concatenate(exps).mean(), rel=1e-5)  # one estimate from both towers
    for e in exps:  # a tower's own estimate (the last write of per-tower estimates) differs from it
        assert abs(N * e.mean() / z - 1) > 1e-3



def _bank_loss(f, bank, t):
    """Full-softmax instance loss of features ``f`` (row i is instance i) against ``bank``, in numpy."""
    logits = f @ bank.T / t
    logits -= logits.max(axis=1, keepdims=True)
    return float(-np.mean(np.diag(logits) - np.log(np.exp(logits).sum(axis=1))))


def test_trained_model_beats_its_untrained_copy_on_its_training_batch():
    cfg = _cfg(nce_k=0, nce_t=0.1, nce_m=0.0, lr=0.1, weight_decay=0.0)  # full softmax, bank = latest features
    n = 8
    rng = np.random.RandomState(2)  # near-duplicate images: one base image plus a little noise each
    images = (rng.randn(1, SIZE, SIZE, 3) + 0.1 * rng.randn(n, SIZE, SIZE, 3)).astype(np.float32)
    model = InstanceDiscModel(cfg, n, SIZE)
    with tf.Graph().as_default(), tf.Session() as sess:
        tf.set_random_seed(0)  # over 16 initialisations, 60 steps left at most 0.21 of the untrained loss
        inputs = [tf.constant(images), tf.zeros([n], tf.int64), tf.constant(np.arange(n))]
        with TowerContext("", is_training=True):
            rows = model.build_graph(*inputs)
        features = rows.embedding
        train_op = model.optimizer(lr_schedule(cfg).create_variable()).minimize(rows.cost)
        with tf.control_dependencies([train_op]):
            step = update_from_towers([rows])
        sess.run(tf.global_variables_initializer())
        untrained = sess.run(features)
        for _ in range(60):
            sess.run(step)
        trained, bank = sess.run([features, tf.global_variables("instance/memory_bank")[0]])
    # against the bank the training filled, the trained network tells its images apart, its untrained copy not
    assert _bank_loss(trained, bank, 0.1) < 0.5 * _bank_loss(untrained, bank, 0.1)
