"""Seam carving (Avidan & Shamir 2007) to make an image square, vectorised with numpy.

Energy = |dI/dx| + |dI/dy| of the grey image (central differences, one-sided at the border). A vertical seam
is one pixel per row, 8-connected; its cumulative cost ``M(i, j) = e(i, j) + min(M(i-1, j-1), M(i-1, j),
M(i-1, j+1))`` is computed row by row, the seam traced back from the argmin of the last row and removed from
every channel. Tall images are transposed, carved, and transposed back.
"""
import numpy as np
import tqdm

GRAY = np.array([0.299, 0.587, 0.114])


def energy(image):
    """Gradient-magnitude energy ``|dI/dx| + |dI/dy|`` of an HxW(xC) image (C=3: ITU-R 601 grey first)."""
    grey = image.astype(np.float64)
    if grey.ndim == 3:
        grey = grey @ GRAY if grey.shape[2] == 3 else grey.mean(axis=2)
    if min(grey.shape) < 2:
        return np.zeros_like(grey)
    return np.abs(np.gradient(grey, axis=1)) + np.abs(np.gradient(grey, axis=0))


def cumulative_cost(e):
    """``(M, back)``: the DP table of minimal seam costs and, per pixel, the column of its best predecessor."""
    h, w = e.shape
    cost = np.empty((h, w))
    back = np.zeros((h, w), np.int64)
    cost[0] = e[0]
    cols = np.arange(w)
    for i in range(1, h):
        prev = np.pad(cost[i - 1], 1, constant_values=np.inf)
        choices = np.stack([prev[:-2], prev[1:-1], prev[2:]])  # columns j-1, j, j+1
        pick = np.argmin(choices, axis=0)
        back[i] = cols + pick - 1
        cost[i] = e[i] + choices[pick, cols]
    return cost, back


def find_vertical_seam(e):
    """Column index of the minimal-energy vertical seam in each row (length H)."""
    cost, back = cumulative_cost(e)
    seam = np.empty(e.shape[0], np.int64)
    seam[-1] = int(np.argmin(cost[-1]))
    for i in range(e.shape[0] - 1, 0, -1):
        seam[i - 1] = back[i, seam[i]]
    return seam


def remove_vertical_seam(image, seam):
    """``image`` with the pixel ``seam[i]`` removed from every row i: HxW(xC) -> Hx(W-1)(xC)."""
    h, w = image.shape[:2]
    keep = np.ones((h, w), bool)
    keep[np.arange(h), seam] = False
    return image[keep].reshape((h, w - 1) + image.shape[2:])


def remove_vertical_seams(image, count, progress=False):
    """Remove ``count`` minimal vertical seams one by one (energy recomputed each time)."""
    if not 0 <= count < image.shape[1]:
        raise ValueError("cannot remove %d seams from an image %d px wide" % (count, image.shape[1]))
    for _ in tqdm.trange(count, desc="seam carving", disable=not progress, leave=False):
        image = remove_vertical_seam(image, find_vertical_seam(energy(image)))
    return image


def carve_to_square(image, progress=True):
    """Square image of side min(H, W): vertical seams for wide images, horizontal ones (transposed) for tall."""
    h, w = image.shape[:2]
    if h == w:
        return image
    if w > h:
        return remove_vertical_seams(image, w - h, progress)
    axes = (1, 0) + tuple(range(2, image.ndim))
    return remove_vertical_seams(image.transpose(axes), h - w, progress).transpose(axes)
