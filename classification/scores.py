"""Scores at test time: averaging softmax vectors (10 crops, several models) and top-k error rates."""
import numpy as np


def average_probabilities(probabilities):
    """Equal-weight mean of a list of ``[N, C]`` softmax arrays (the release's "Average" of several models)."""
    probabilities = [np.asarray(p, np.float64) for p in probabilities]
    if not probabilities:
        raise ValueError("no scores to average")
    shapes = {p.shape for p in probabilities}
    if len(shapes) != 1:
        raise ValueError("cannot average scores of different shapes: %s" % sorted(shapes))
    return np.mean(probabilities, axis=0)


def topk_wrong(scores, labels, k):
    """Boolean ``[N]``: the label is not among the ``k`` highest scores (ties broken by the lower class id)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return ~np.any(order == labels[:, None], axis=1)


def topk_classes(probs, k):
    """``[(class id, probability)]`` of the ``k`` most likely classes of one softmax vector, best first."""
    order = np.argsort(-np.asarray(probs), kind="stable")[:k]
    return [(int(c), float(probs[c])) for c in order]
