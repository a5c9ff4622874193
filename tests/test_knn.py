"""common.eval.knn against a brute-force numpy kNN, on every backend, plus the spec's worked example."""
import numpy as np
import pytest

from common.eval.knn import knn_accuracy, knn_predict, knn_search, topk_accuracy

BACKENDS = ["numpy", "faiss", "tf"]


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _brute_scores(bank, labels, queries, num_classes, k, t):
    scores = np.zeros((len(queries), num_classes))
    for qi, q in enumerate(queries):
        sims = bank.astype(np.float64) @ q.astype(np.float64)
        for j in np.argsort(-sims)[:k]:
            scores[qi, labels[j]] += np.exp(sims[j] / t)
    return scores


def _brute_accuracy(scores, labels, k):
    hits = [lab in np.argsort(-s)[:k] for s, lab in zip(scores, labels)]
    return float(np.mean(hits))


@pytest.fixture(scope="module")
def problem():
    rng = np.random.RandomState(0)
    bank, queries = _unit(rng.randn(300, 16)), _unit(rng.randn(40, 16))
    return bank, rng.randint(0, 7, 300), queries, rng.randint(0, 7, 40)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("k,t", [(200, 0.07), (10, 0.1), (1, 0.07)])
def test_scores_match_brute_force(problem, backend, k, t):
    bank, labels, queries, _ = problem
    got = knn_predict(bank, labels, queries, 7, k=k, t=t, query_chunk=9, bank_chunk=37, backend=backend)
    expected = _brute_scores(bank, labels, queries, 7, k, t)
    assert got.shape == (40, 7)
    np.testing.assert_allclose(got, expected, rtol=2e-5)
    if k == 1:  # plain nearest neighbour: one non-zero class, the nearest row's label
        nearest = labels[np.argmax(queries @ bank.T, axis=1)]
        np.testing.assert_array_equal(np.argmax(got, 1), nearest)
        assert np.all((got > 0).sum(1) == 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_search_sorted_and_k_capped_at_bank_size(problem, backend):
    bank, _, queries, _ = problem
    sims, idx = knn_search(bank[:20], queries, k=50, query_chunk=16, bank_chunk=8, backend=backend)
    full = queries @ bank[:20].T
    assert sims.shape == idx.shape == (40, 20)
    np.testing.assert_allclose(sims, -np.sort(-full, axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.take_along_axis(full, idx, 1), sims, rtol=1e-5, atol=1e-6)


def test_accuracy_matches_brute_force(problem):
    bank, labels, queries, qlabels = problem
    scores = _brute_scores(bank, labels, queries, 7, 30, 0.07)
    got = knn_accuracy(bank, labels, queries, qlabels, k=30, t=0.07, backend="numpy")
    assert got == pytest.approx({"top1": _brute_accuracy(scores, qlabels, 1),
                                 "top5": _brute_accuracy(scores, qlabels, 5)})
    assert topk_accuracy([[0.1, 0.5, 0.2], [0.3, 0.2, 0.1]], [1, 1], topk=(1, 2)) == {"top1": 0.5, "top2": 1.0}


def test_spec_weighted_vote_example():
    """sims 0.9 (A), 0.8 (B), 0.7 (B), sigma 0.1: A 8103.08 beats B 4077.59 (majority would pick B)."""
    sims = np.array([0.9, 0.8, 0.7, 0.1, 0.0])
    bank = np.stack([sims, np.sqrt(1 - sims ** 2)], 1).astype(np.float32)
    scores = knn_predict(bank, [0, 1, 1, 1, 1], [[1.0, 0.0]], 2, k=3, t=0.1, backend="numpy")
    np.testing.assert_allclose(scores[0], [8103.08, 4077.59], rtol=1e-5)
    assert np.argmax(scores[0]) == 0


def test_bad_inputs_give_one_line_errors(problem):
    bank, labels, queries, _ = problem
    with pytest.raises(ValueError, match=r"bank must be \[N, D\] and queries \[Q, D\]"):
        knn_predict(bank, labels, queries[:, :8], 7)
    with pytest.raises(ValueError, match="bank_labels has 299 entries"):
        knn_predict(bank, labels[1:], queries, 7)
    with pytest.raises(ValueError, match=r"bank_labels must lie in \[0, num_classes=5\)"):
        knn_predict(bank, labels, queries, 5)
    with pytest.raises(ValueError, match="k must be >= 1"):
        knn_predict(bank, labels, queries, 7, k=0)
    with pytest.raises(ValueError, match="backend must be one of"):
        knn_predict(bank, labels, queries, 7, backend="cuda")


def _dataset_tensors(x, y, idx, repeat=1):
    from common.tf1 import tf
    ds = tf.data.Dataset.from_tensor_slices((x, y, idx)).repeat(repeat).batch(4)
    it = tf.data.make_initializable_iterator(ds)
    feats, labels, indices = it.get_next()
    return it.initializer, feats * 2.0, labels, indices


def test_extract_features_in_dataset_order():
    from common.eval.features import extract_features
    from common.tf1 import tf
    rng = np.random.RandomState(3)
    x, y = rng.randn(10, 3).astype(np.float32), rng.randint(0, 5, 10)
    perm = rng.permutation(10)  # the file order differs from the index order
    with tf.Graph().as_default(), tf.Session() as sess:
        init, feats, labels, indices = _dataset_tensors(x[perm], y[perm], perm)
        f, lab, idx = extract_features(sess, feats, labels, indices, init_op=init, expect_size=10)
        np.testing.assert_allclose(f, 2 * x, rtol=1e-6)
        np.testing.assert_array_equal(lab, y)
        np.testing.assert_array_equal(idx, np.arange(10))
        f, lab, idx = extract_features(sess, feats, init_op=init, max_batches=2)
        np.testing.assert_allclose(f, 2 * x[perm[:8]], rtol=1e-6)
        assert lab is None and list(idx) == list(range(8))
        with pytest.raises(ValueError, match=r"expected indices 0\.\.10, got 10 rows"):
            extract_features(sess, feats, labels, indices, init_op=init, expect_size=11)
    with tf.Graph().as_default(), tf.Session() as sess:
        init, feats, labels, indices = _dataset_tensors(x, y, np.arange(10), repeat=2)
        with pytest.raises(ValueError, match="was read twice"):
            extract_features(sess, feats, labels, indices, init_op=init)
