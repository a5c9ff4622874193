"""revisiting tasks: batch expansion, labels, pair/permutation features, heads and losses against numpy."""
import itertools

import numpy as np
import pytest

from common.tf1 import tf
from revisiting import jigsaw
from revisiting.losses import triplet_semihard_loss
from revisiting.patch_utils import fully_connected, permute_and_concat
from revisiting.tasks import get_task

RNG = np.random.RandomState(1)


class LinearNet:
    """A stand-in trunk: logits = flatten(images) @ W with a fixed numpy W (so numpy can recompute them)."""

    def __init__(self, in_dim, max_classes=64):
        self.w = RNG.randn(in_dim, max_classes).astype(np.float32) * 0.1
        self.calls = []

    def __call__(self, images, is_training, num_classes=None):
        self.calls.append((images.shape.as_list(), num_classes))
        flat = tf.reshape(images, [tf.shape(images)[0], -1])
        return {"logits": tf.matmul(flat, tf.constant(self.w[:, :num_classes]))}

    def numpy(self, images, num_classes):
        return images.reshape(len(images), -1) @ self.w[:, :num_classes]


def run_task(name, images, cfg, is_training=True, labels=None, net=None):
    net = net or LinearNet(int(np.prod(images.shape[-3:])))
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        data = {"image": tf.constant(images)}
        if labels is not None:
            data["label"] = tf.constant(labels)
        out = get_task(name)(data, is_training, net, cfg)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            return sess.run(out), net


def np_softmax_ce(logits, labels):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(labels)), labels].mean()


def np_triplet_semihard(labels, emb, margin):
    d = ((emb[:, None] - emb[None]) ** 2).sum(-1)
    total, pairs = 0.0, 0
    for a, p in itertools.permutations(range(len(labels)), 2):
        if labels[a] != labels[p]:
            continue
        negs = d[a][labels != labels[a]]
        farther = negs[negs > d[a, p]]
        neg = farther.min() if len(farther) else negs.max()
        total += max(0.0, margin + d[a, p] - neg)
        pairs += 1
    return total / pairs


def test_rotation_expands_batch_image_major():
    images = RNG.rand(3, 4, 5, 5, 3).astype(np.float32)
    labels = np.tile(np.arange(4, dtype=np.int64), [3, 1])
    out, net = run_task("rotation", images, {}, labels=labels)
    assert net.calls == [([12, 5, 5, 3], 4)]
    np.testing.assert_array_equal(out["labels"], np.tile(np.arange(4), 3))
    logits = net.numpy(images.reshape(12, 5, 5, 3), 4)
    np.testing.assert_allclose(out["logits"], logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["loss"], np_softmax_ce(logits, out["labels"]), rtol=1e-4)


def test_supervised_loss():
    images = RNG.rand(5, 4, 4, 3).astype(np.float32)
    labels = RNG.randint(0, 7, 5).astype(np.int64)
    out, net = run_task("supervised", images, {"num_classes": 7}, labels=labels)
    np.testing.assert_allclose(out["loss"], np_softmax_ce(net.numpy(images, 7), labels), rtol=1e-4)


def test_permute_and_concat_interleaves_channels():
    emb = RNG.randn(3, 9, 5).astype(np.float32)
    perms = np.array([RNG.permutation(9)[:k] for k in (4, 4)], np.int32)
    with tf.Session(graph=tf.Graph()) as sess:
        out = sess.run(permute_and_concat(tf.constant(emb), tf.constant(perms)))
    assert out.shape == (6, 1, 1, 20)
    for b in range(3):
        for m in range(2):
            for c in range(5):
                for k in range(4):
                    assert out[b * 2 + m, 0, 0, c * 4 + k] == emb[b, perms[m, k], c]


def test_relative_patch_location_pairs_labels_and_head():
    images = RNG.rand(2, 9, 4, 4, 3).astype(np.float32)
    out, net = run_task("relative_patch_location", images, {"embed_dim": 6, "head_hidden": 16})
    assert net.calls == [([18, 4, 4, 3], 6)]
    np.testing.assert_array_equal(out["labels"], np.tile(np.arange(8), 2))
    assert out["logits"].shape == (16, 8)
    np.testing.assert_allclose(out["loss"], np_softmax_ce(out["logits"], out["labels"]), rtol=1e-4)


def test_fully_connected_head_matches_numpy_in_inference():
    feats = RNG.randn(4, 1, 1, 10).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        logits = fully_connected(tf.constant(feats), 3, is_training=False, hidden=8)
        sess.run(tf.global_variables_initializer())
        got = sess.run(logits)
        v = {x.op.name.split("/", 1)[1]: sess.run(x) for x in tf.global_variables()}
        reg = sess.run(tf.add_n(tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)))
    h = feats.reshape(4, 10) @ v["fc7/kernel"].reshape(10, 8) + v["fc7/bias"]
    h = (h - v["fc7_bn/moving_mean"]) / np.sqrt(v["fc7_bn/moving_variance"] + 1e-5) * v["fc7_bn/gamma"]
    h = np.maximum(h + v["fc7_bn/beta"], 0)
    np.testing.assert_allclose(got, h @ v["fc8/kernel"].reshape(8, 3) + v["fc8/bias"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(v["fc7/bias"], 0.1)
    assert abs(v["fc7/kernel"].std() - 0.005) < 0.002 and np.abs(v["fc7/kernel"]).max() <= 0.01 + 1e-6
    expected_reg = 5e-4 * ((v["fc7/kernel"] ** 2).sum() + (v["fc8/kernel"] ** 2).sum()) / 2
    np.testing.assert_allclose(reg, expected_reg, rtol=1e-4)


def test_make_permutations_max_hamming_set(tmp_path):
    perms = jigsaw.make_permutations(100, 9, seed=0)
    assert perms.shape == (100, 9) and perms.min() == 0 and perms.max() == 8
    np.testing.assert_array_equal(np.sort(perms, axis=1), np.tile(np.arange(9), [100, 1]))
    dist = (perms[:, None] != perms[None]).sum(-1) + np.eye(100, dtype=int) * 99
    assert dist.min() == 6
    # greedy property: each permutation is at max-min distance from the ones before it
    small = jigsaw.make_permutations(6, 4, seed=3)
    every = np.array(list(itertools.permutations(range(4))))
    for i in range(1, 6):
        best = max((every[:, None] != small[None, :i]).sum(-1).min(axis=1))
        assert (small[i] != small[:i]).sum(-1).min() == best
    path = str(tmp_path / jigsaw.PERMUTATIONS_FILE)
    jigsaw.save_permutations(path, perms)
    raw = np.fromfile(path, "<i4")
    assert list(raw[:2]) == [100, 9] and raw[2:].min() == 1 and raw[2:].max() == 9
    np.testing.assert_array_equal(jigsaw.load_permutations(path), perms)
    np.array([2, 2, 1, 1, 1, 1], "<i4").tofile(path)
    with pytest.raises(ValueError, match="not permutations"):
        jigsaw.load_permutations(path)


def test_jigsaw_subset_labels_and_features(tmp_path):
    path = str(tmp_path / jigsaw.PERMUTATIONS_FILE)
    perms = jigsaw.ensure_permutations(path, n=10)
    images = RNG.rand(3, 9, 2, 2, 3).astype(np.float32)
    cfg = {"embed_dim": 4, "head_hidden": 8, "permutations_file": path, "perm_subset_size": 5}
    out, _ = run_task("jigsaw", images, cfg, is_training=True)
    labels = out["labels"].reshape(3, 5)
    assert len(set(labels[0])) == 5 and (labels == labels[0]).all() and labels.max() < 10
    assert out["logits"].shape == (15, 10)
    out, _ = run_task("jigsaw", images, cfg, is_training=False)
    np.testing.assert_array_equal(out["labels"], np.tile(np.arange(10), 3))
    np.testing.assert_allclose(out["loss"], np_softmax_ce(out["logits"], out["labels"]), rtol=1e-4)
    assert perms.shape == (10, 9)


@pytest.mark.parametrize("margin", [0.5, 2.0])
def test_triplet_semihard_loss_matches_numpy(margin):
    labels = RNG.randint(0, 4, 12)
    emb = RNG.randn(12, 5).astype(np.float32)
    with tf.Session(graph=tf.Graph()) as sess:
        got = sess.run(triplet_semihard_loss(tf.constant(labels), tf.constant(emb), margin))
    np.testing.assert_allclose(got, np_triplet_semihard(labels, emb.astype(np.float64), margin), rtol=1e-4)


def test_exemplar_labels_axis0_normalisation_and_loss():
    images = RNG.rand(3, 4, 3, 3, 3).astype(np.float32)
    cfg = {"embed_dim": 5, "num_of_inception_patches": 4, "margin": 0.5}
    out, net = run_task("exemplar", images, cfg)
    np.testing.assert_array_equal(out["labels"], np.repeat(np.arange(3), 4))
    raw = net.numpy(images.reshape(12, 3, 3, 3), 5)
    emb = raw / np.linalg.norm(raw, axis=0, keepdims=True)
    np.testing.assert_allclose(out["embeddings"], emb, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["loss"], np_triplet_semihard(out["labels"], emb, 0.5), rtol=1e-4)
    out, _ = run_task("exemplar", images, dict(cfg, exemplar_l2_axis=1))
    np.testing.assert_allclose(np.linalg.norm(out["embeddings"], axis=1), 1, rtol=1e-5)


def test_bad_task_inputs_are_one_line_errors():
    with pytest.raises(ValueError, match="do not hold num_of_inception_patches=8"):
        run_task("exemplar", np.zeros((2, 4, 3, 3, 3), np.float32),
                 {"embed_dim": 5, "num_of_inception_patches": 8, "margin": 0.5})
    with pytest.raises(ValueError, match="unknown task 'rotate'.*rotation"):
        get_task("rotate")
    with pytest.raises(ValueError, match="end the preprocessing string with 'rotate'"):
        run_task("rotation", np.zeros((2, 4, 4, 3), np.float32), {})
