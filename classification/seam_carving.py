"""Seam carving (Avidan & Shamir 2007) as the release's seam_carving.py does it, with a vectorised programme.

Energy (the release's, quirk included): the Sobel kernels du = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]] and dv = du^T
are stacked three times into 3x3x3 kernels and convolved in 3-D with the HxWx3 float32 image (scipy.ndimage's
default 'reflect' border, which also reflects along the channel axis); the energy is |du * I| + |dv * I| summed
over the three output channels. Output channel k is therefore the 2-D Sobel response of the channel mix
2 c0 + c1, c0 + c1 + c2, c1 + 2 c2. Seams: cumulative minimum over the 3 neighbours of the row above (2 at the
borders, the first minimum on ties), float32, backtracked from the argmin of the last row; one seam removed per
pass, the energy recomputed each pass (here only next to the removed seam: the rest cannot change).
``carve(image, size)``: short side to ``size`` (bilinear, ``int()`` sizes), then vertical seams until the image
is ``size`` x ``size`` (a portrait image is rotated by 90 degrees, carved and rotated back).
"""
import numpy as np

from classification.crops import resize_shorter

def _sobel_abs(mixed):
    """``|du * m| + |dv * m|`` per channel (float32, as the release's float32 convolution) of a padded stack."""
    p = mixed
    top, mid, bot = p[:-2], p[1:-1], p[2:]
    du = (top[:, :-2] + 2 * top[:, 1:-1] + top[:, 2:]) - (bot[:, :-2] + 2 * bot[:, 1:-1] + bot[:, 2:])
    dv = (top[:, :-2] + 2 * mid[:, :-2] + bot[:, :-2]) - (top[:, 2:] + 2 * mid[:, 2:] + bot[:, 2:])
    return np.abs(du.astype(np.float32)) + np.abs(dv.astype(np.float32))


def _mix(image):
    """float64 channel mixes (... x 3) whose 2-D Sobel responses make up the energy: 2c0+c1, c0+c1+c2, c1+2c2."""
    c = np.asarray(image, np.float32).astype(np.float64)
    c0, c1, c2 = c[..., 0], c[..., 1], c[..., 2]
    return np.stack([2 * c0 + c1, c0 + c1 + c2, c1 + 2 * c2], axis=-1)


def energy(image):
    """The release's energy map (float32 HxW) of an HxWx3 image."""
    return _energy_of_mix(_mix(image))


def _energy_of_mix(mixed):
    padded = np.pad(mixed, ((1, 1), (1, 1), (0, 0)), mode="symmetric")
    e = _sobel_abs(padded)
    return (e[..., 0] + e[..., 1]) + e[..., 2]


def find_vertical_seam(e):
    """Column of the minimal vertical seam in each row of the energy map ``e`` (the release's tie rules)."""
    h, w = e.shape
    cost = np.full((h, w + 2), np.inf, np.float32)  # one inf column on each side
    cost[0, 1:-1] = e[0]
    best = np.empty(w, np.float32)
    for i in range(1, h):
        prev = cost[i - 1]
        np.minimum(prev[:-2], prev[1:-1], out=best)
        np.minimum(best, prev[2:], out=best)
        np.add(e[i], best, out=cost[i, 1:-1])
    seam = np.empty(h, np.int64)
    j = int(np.argmin(cost[-1, 1:-1]))
    seam[-1] = j
    for i in range(h - 1, 0, -1):
        j += int(np.argmin(cost[i - 1, j:j + 3])) - 1  # padded columns j..j+2 = image columns j-1..j+1
        seam[i - 1] = j
    return seam


def remove_vertical_seam(image, seam):
    """``image`` without pixel ``seam[i]`` of each row i: HxW(xC) -> Hx(W-1)(xC)."""
    h, w = image.shape[:2]
    c = int(np.prod(image.shape[2:], dtype=np.int64))
    drop = ((np.arange(h) * w + seam)[:, None] * c + np.arange(c)[None]).ravel()
    return np.delete(image.ravel(), drop).reshape((h, w - 1) + image.shape[2:])


def _update_energy(image, e, seam):
    """The energy after removing ``seam`` (``image`` already without it) from the old map ``e``: recomputed in
    columns seam-2..seam+1 of each row, the only ones whose 3x3 neighbourhood changed."""
    h, w = image.shape[:2]
    e = remove_vertical_seam(e, seam)
    cols = np.clip(seam[:, None] + np.arange(-2, 2)[None], 0, w - 1)
    rows = np.clip(np.arange(h)[:, None, None] + np.arange(-1, 2)[None, None, :], 0, h - 1)  # 'reflect' border
    nb = np.clip(cols[:, :, None] + np.arange(-1, 2)[None, None, :], 0, w - 1)
    patch = _mix(image[rows[:, :, :, None], nb[:, :, None, :]])  # [h, 4 columns, 3 rows, 3 columns, 3 mixes]
    t, m, b = patch[:, :, 0], patch[:, :, 1], patch[:, :, 2]
    du = (t[:, :, 0] + 2 * t[:, :, 1] + t[:, :, 2]) - (b[:, :, 0] + 2 * b[:, :, 1] + b[:, :, 2])
    dv = (t[:, :, 0] + 2 * m[:, :, 0] + b[:, :, 0]) - (t[:, :, 2] + 2 * m[:, :, 2] + b[:, :, 2])
    local = np.abs(du.astype(np.float32)) + np.abs(dv.astype(np.float32))
    e[np.arange(h)[:, None], cols] = (local[..., 0] + local[..., 1]) + local[..., 2]
    return e


def remove_vertical_seams(image, count):
    """Remove ``count`` minimal vertical seams one by one (energy recomputed after each removal)."""
    if not 0 <= count < image.shape[1]:
        raise ValueError("cannot remove %d seams from an image %d px wide" % (count, image.shape[1]))
    if not count:
        return image
    e = energy(image)
    for _ in range(count):
        seam = find_vertical_seam(e)
        image = remove_vertical_seam(image, seam)
        e = _update_energy(image, e, seam)
    return image


def carve(image, size=224):
    """The release's seam-carved ``size`` x ``size`` view of an HxWx3 image."""
    image = resize_shorter(image, size, "bilinear", "floor")
    h, w = image.shape[:2]
    if h > w:
        return np.rot90(remove_vertical_seams(np.rot90(image, 1, (0, 1)), h - size), 3, (0, 1))
    return remove_vertical_seams(image, w - size)


def mirrored_seam_view(resized, size=224):
    """The release's 11th test view: ``carve`` of the horizontally mirrored (short-side resized) image."""
    return carve(np.ascontiguousarray(resized[:, ::-1]), size)
