"""Top-k bank neighbours of query features and a PNG grid of each query followed by its neighbours."""
import numpy as np

__all__ = ["top_neighbors", "draw_neighbor_grid", "CORRECT_COLOR", "WRONG_COLOR"]

CORRECT_COLOR = (0.0, 0.75, 0.0)
WRONG_COLOR = (0.9, 0.0, 0.0)


def top_neighbors(bank, queries, k=10):
    """``(indices, sims)``, both ``[Q, k]``: the k bank rows of highest dot product per query, best first."""
    sims = np.asarray(queries, np.float32) @ np.asarray(bank, np.float32).T
    k = min(k, sims.shape[1])
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
    indices = np.take_along_axis(part, order, axis=1)
    return indices, np.take_along_axis(sims, indices, axis=1)


def draw_neighbor_grid(path, query_images, query_labels, neighbor_images, neighbor_labels, class_names,
                       sims=None):
    """Write one PNG: a row per query (query image, then its neighbours), captions with class names.

    ``neighbor_images`` is ``[Q, k, H, W, 3]`` uint8; neighbours of the query's class get a thick green
    frame (``CORRECT_COLOR``), others a red one (``WRONG_COLOR``); the query has no frame.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_q, k = len(query_images), neighbor_images.shape[1]
    fig, axes = plt.subplots(n_q, k + 1, figsize=(1.3 * (k + 1), 1.5 * n_q), squeeze=False)
    for q in range(n_q):
        _show(axes[q, 0], query_images[q], "query\n%s" % class_names[query_labels[q]], None)
        for j in range(k):
            label = neighbor_labels[q, j]
            caption = class_names[label] if sims is None else "%s\n%.2f" % (class_names[label], sims[q, j])
            color = CORRECT_COLOR if label == query_labels[q] else WRONG_COLOR
            _show(axes[q, j + 1], neighbor_images[q, j], caption, color)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _show(ax, image, caption, frame_color):
    ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(caption, fontsize=7)
    for spine in ax.spines.values():
        spine.set_visible(frame_color is not None)
        if frame_color is not None:
            spine.set_color(frame_color)
            spine.set_linewidth(4)
