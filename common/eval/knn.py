"""Weighted k-nearest-neighbour classification of features against a memory bank (Wu et al. 2018, sec. 9).

Similarity is the dot product (cosine on L2-normalised features). Each of the k most similar bank rows
votes for its label with weight ``exp(sim / t)``; k = 1 is the plain nearest neighbour. The search is
chunked over queries and over the bank, so a 1.28M x 128 bank fits in memory. Backends: ``numpy``
(matmul + argpartition), ``faiss`` (exact ``IndexFlatIP``) and ``tf`` (matmul + ``top_k`` in a private
graph, on the GPU when there is one). ``auto`` is ``tf``: the fastest here even on CPU (bench/knn.py).
"""
import numpy as np

from common.tf1 import tf

__all__ = ["knn_search", "knn_predict", "knn_accuracy", "topk_accuracy", "BACKENDS"]

BACKENDS = ("auto", "numpy", "faiss", "tf")


def _resolve_backend(backend):
    if backend not in BACKENDS:
        raise ValueError("knn: backend must be one of %s, got %r" % ("|".join(BACKENDS), backend))
    return "tf" if backend == "auto" else backend


def _merge_topk(vals, idx, k):
    """Keep the k largest of ``vals`` per row (unsorted) with their ``idx``."""
    if vals.shape[1] <= k:
        return vals, idx
    part = np.argpartition(-vals, k - 1, axis=1)[:, :k]
    return np.take_along_axis(vals, part, 1), np.take_along_axis(idx, part, 1)


def _search_numpy(bank, queries, k, query_chunk, bank_chunk):
    n = len(bank)
    out_v = np.empty((len(queries), k), np.float32)
    out_i = np.empty((len(queries), k), np.int64)
    for q0 in range(0, len(queries), query_chunk):
        q = queries[q0:q0 + query_chunk]
        best_v = np.empty((len(q), 0), np.float32)
        best_i = np.empty((len(q), 0), np.int64)
        for b0 in range(0, n, bank_chunk):
            sims = q @ bank[b0:b0 + bank_chunk].T
            v, i = _merge_topk(sims, np.broadcast_to(np.arange(b0, b0 + sims.shape[1]), sims.shape), k)
            best_v, best_i = _merge_topk(np.concatenate([best_v, v], 1), np.concatenate([best_i, i], 1), k)
        out_v[q0:q0 + len(q)], out_i[q0:q0 + len(q)] = best_v, best_i
    return out_v, out_i


def _search_faiss(bank, queries, k, query_chunk):
    import faiss
    index = faiss.IndexFlatIP(bank.shape[1])
    index.add(bank)
    out_v = np.empty((len(queries), k), np.float32)
    out_i = np.empty((len(queries), k), np.int64)
    for q0 in range(0, len(queries), query_chunk):
        out_v[q0:q0 + query_chunk], out_i[q0:q0 + query_chunk] = index.search(queries[q0:q0 + query_chunk], k)
    return out_v, out_i


def _search_tf(bank, queries, k, query_chunk, bank_chunk):
    n, d = bank.shape
    with tf.Graph().as_default() as graph:
        bank_init = tf.placeholder(tf.float32, [n, d])
        bank_var = tf.Variable(bank_init, trainable=False, name="knn_bank")
        q = tf.placeholder(tf.float32, [None, d])
        vals, idxs = [], []
        for b0 in range(0, n, bank_chunk):
            rows = min(bank_chunk, n - b0)
            sims = tf.matmul(q, bank_var[b0:b0 + rows], transpose_b=True)
            v, i = tf.nn.top_k(sims, k=min(k, rows), sorted=False)
            vals.append(v)
            idxs.append(tf.cast(i, tf.int64) + b0)
        v, pos = tf.nn.top_k(tf.concat(vals, 1), k=k, sorted=False)
        i = tf.gather(tf.concat(idxs, 1), pos, batch_dims=1)
        # one op at a time: at most one [query_chunk, bank_chunk] similarity block is alive
        config = tf.ConfigProto(allow_soft_placement=True, inter_op_parallelism_threads=1)
        config.gpu_options.allow_growth = True
        with tf.Session(graph=graph, config=config) as sess:
            sess.run(bank_var.initializer, {bank_init: bank})
            parts = [sess.run([v, i], {q: queries[q0:q0 + query_chunk]})
                     for q0 in range(0, len(queries), query_chunk)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _check_inputs(bank, queries, k, t):
    bank = np.ascontiguousarray(bank, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if bank.ndim != 2 or queries.ndim != 2 or bank.shape[1] != queries.shape[1]:
        raise ValueError("knn: bank must be [N, D] and queries [Q, D], got %s and %s"
                         % (bank.shape, queries.shape))
    if len(bank) == 0:
        raise ValueError("knn: the bank is empty")
    if int(k) < 1:
        raise ValueError("knn: k must be >= 1, got %r" % k)
    if not t > 0:
        raise ValueError("knn: temperature t must be > 0, got %r" % t)
    return bank, queries


def knn_search(bank, queries, k=200, query_chunk=1024, bank_chunk=65536, backend="auto"):
    """The ``min(k, N)`` most similar bank rows of each query: ``(sims [Q, k], indices [Q, k])``, sorted
    by decreasing similarity."""
    bank, queries = _check_inputs(bank, queries, k, 1.0)
    k = min(int(k), len(bank))
    backend = _resolve_backend(backend)
    if backend == "numpy":
        vals, idx = _search_numpy(bank, queries, k, query_chunk, bank_chunk)
    elif backend == "faiss":
        vals, idx = _search_faiss(bank, queries, k, query_chunk)
    else:
        vals, idx = _search_tf(bank, queries, k, query_chunk, bank_chunk)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(vals, order, 1), np.take_along_axis(idx, order, 1)


def knn_predict(bank, bank_labels, queries, num_classes, k=200, t=0.07, query_chunk=1024, bank_chunk=65536,
                backend="auto"):
    """Weighted kNN class scores ``[Q, num_classes]``: per class, the sum of ``exp(sim / t)`` over the k
    most similar bank rows carrying that label (k = 1: nearest neighbour)."""
    bank, queries = _check_inputs(bank, queries, k, t)
    bank_labels = np.asarray(bank_labels).astype(np.int64).ravel()
    if len(bank_labels) != len(bank):
        raise ValueError("knn: bank_labels has %d entries for a bank of %d rows" % (len(bank_labels), len(bank)))
    if bank_labels.min() < 0 or bank_labels.max() >= num_classes:
        raise ValueError("knn: bank_labels must lie in [0, num_classes=%d), found [%d, %d]"
                         % (num_classes, bank_labels.min(), bank_labels.max()))
    sims, idx = knn_search(bank, queries, k, query_chunk, bank_chunk, backend)
    weights = np.exp(sims.astype(np.float64) / t)
    flat = np.arange(len(queries))[:, None] * num_classes + bank_labels[idx]
    scores = np.bincount(flat.ravel(), weights=weights.ravel(), minlength=len(queries) * num_classes)
    return scores.reshape(len(queries), num_classes).astype(np.float32)


def topk_accuracy(scores, labels, topk=(1, 5)):
    """Fraction of rows whose label is among the ``k`` highest scores, for each k: ``{"top1": .., ...}``."""
    scores = np.asarray(scores)
    labels = np.asarray(labels).astype(np.int64).ravel()
    if len(labels) != len(scores):
        raise ValueError("knn: %d labels for %d score rows" % (len(labels), len(scores)))
    order = np.argsort(-scores, axis=1, kind="stable")
    return {"top%d" % k: float(np.mean(np.any(order[:, :k] == labels[:, None], axis=1))) for k in topk}


def knn_accuracy(bank, bank_labels, queries, query_labels, num_classes=None, k=200, t=0.07, **kwargs):
    """Top-1 / top-5 accuracy (fractions) of weighted kNN; ``num_classes`` defaults to max(label) + 1.
    ``kwargs`` (``query_chunk``, ``bank_chunk``, ``backend``) go to :func:`knn_predict`."""
    if num_classes is None:
        num_classes = int(max(np.max(bank_labels), np.max(query_labels))) + 1
    scores = knn_predict(bank, bank_labels, queries, num_classes, k=k, t=t, **kwargs)
    return topk_accuracy(scores, query_labels)
