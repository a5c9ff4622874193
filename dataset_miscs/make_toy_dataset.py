"""Seeded toy image set in the ImageNet folder layout: upright multi-part objects on cluttered backgrounds.

    python dataset_miscs/make_toy_dataset.py --out data/toy [--num-classes 10 --train-per-class 1000
        --val-per-class 100 --size 96 --seed 0 --workers N --grid samples.png]

Writes ``<out>/train/<wnid>/<wnid>_<i>.JPEG``, ``<out>/val/<wnid>/...`` and ``<out>/class_names.txt``
(``<wnid> <name>`` per line). Every image is drawn from its own seed (seed, split, class, i), so the output
does not depend on the number of workers.
"""
import multiprocessing
import os

import cv2
import numpy as np

from common import cli
from common.data.build import CLASS_NAMES_FILE
from common.data.fsutil import ensure_writable_dir
from dataset_miscs.toy_shapes import CLASSES

SPLITS = ("train", "val")
SHIFT = 4  # sub-pixel bits for OpenCV drawing


def wnid(label):
    """WordNet-id-like directory name of class ``label``."""
    return "n%08d" % label


def _random_colour(rng):
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(40, 256), rng.integers(40, 256)]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _texture(rng, colour, size):
    """A size x size x 3 fill: plain, stripes, checks, speckle or gradient between two related colours."""
    kind = rng.integers(0, 5)
    if kind == 0:
        return np.broadcast_to(colour, (size, size, 3))
    other = colour * rng.uniform(0.35, 0.75) if rng.random() < 0.7 else _random_colour(rng)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    ang = rng.uniform(0, np.pi)
    proj = xx * np.cos(ang) + yy * np.sin(ang)
    if kind == 1:
        t = (np.sin(proj * rng.uniform(0.3, 1.2)) > 0).astype(np.float32)
    elif kind == 2:
        period = int(rng.integers(3, 9))
        t = ((xx // period + yy // period) % 2).astype(np.float32)
    elif kind == 3:
        t = (rng.random((size, size)) < rng.uniform(0.15, 0.4)).astype(np.float32)
    else:
        t = (proj - proj.min()) / (proj.max() - proj.min())
    return colour * (1 - t[..., None]) + other * t[..., None]


def _background(rng, size):
    """Two-colour gradient, low-frequency noise and random clutter (lines, blobs, polygons)."""
    img = _texture(rng, _random_colour(rng) * rng.uniform(0.5, 1.0), size).astype(np.float32)
    low = cv2.resize(rng.normal(0, rng.uniform(5, 25), (6, 6, 3)).astype(np.float32), (size, size))
    img = np.clip(img + low, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(3, 10)):
        colour = tuple(float(c) for c in _random_colour(rng))
        kind = rng.integers(0, 3)
        pts = rng.uniform(-0.1, 1.1, (3, 2)) * size
        if kind == 0:
            cv2.line(img, _px(pts[0]), _px(pts[1]), colour, int(rng.integers(1, 4)), cv2.LINE_AA, SHIFT)
        elif kind == 1:
            axes = _px(rng.uniform(0.03, 0.15, 2) * size)
            cv2.ellipse(img, _px(pts[0]), axes, rng.uniform(0, 180), 0, 360, colour, -1, cv2.LINE_AA, SHIFT)
        else:
            small = pts[0] + (pts - pts[0]) * rng.uniform(0.1, 0.3)
            cv2.fillPoly(img, [np.int32(np.round(small * (1 << SHIFT)))], colour, cv2.LINE_AA, SHIFT)
    return img.astype(np.float32)


def _px(p):
    return tuple(int(round(float(v) * (1 << SHIFT))) for v in p)


def _part_mask(kind, params, place, size):
    """Anti-aliased float mask of one part placed by ``place`` = (centre, (sx, sy), rotation matrix, degrees)."""
    centre, (sx, sy), rot, deg = place

    def to_px(u, v):
        return centre + rot @ np.array([(u - 0.5) * sx, (v - 0.5) * sy])

    mask = np.zeros((size, size), np.uint8)
    if kind == "poly":
        pts = np.array([to_px(u, v) for u, v in params])
        cv2.fillPoly(mask, [np.int32(np.round(pts * (1 << SHIFT)))], 255, cv2.LINE_AA, SHIFT)
    elif kind == "line":
        p1, p2, width = params
        thick = max(1, int(round(width * (sx + sy) / 2)))
        cv2.line(mask, _px(to_px(*p1)), _px(to_px(*p2)), 255, thick, cv2.LINE_AA, SHIFT)
    else:
        (u, v), (ru, rv), angle, start, end, width = params
        thick = -1 if width < 0 else max(1, int(round(width * (sx + sy) / 2)))
        cv2.ellipse(mask, _px(to_px(u, v)), _px((ru * sx, rv * sy)), angle + deg, start, end, 255, thick,
                    cv2.LINE_AA, SHIFT)
    return mask.astype(np.float32)[..., None] / 255.0


def draw_image(label, rng, size=96):
    """Draw one RGB uint8 image of class ``label`` at a random position, scale, colour and texture."""
    img = _background(rng, size)
    extent = rng.uniform(0.45, 0.9) * size
    aspect = rng.uniform(0.8, 1.25)
    sx, sy = extent * np.sqrt(aspect), extent / np.sqrt(aspect)
    sx, sy = min(sx, 0.95 * size), min(sy, 0.95 * size)
    centre = np.array([rng.uniform(sx / 2, size - sx / 2), rng.uniform(sy / 2, size - sy / 2)])
    deg = rng.uniform(-10, 10)
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    place = (centre, (sx, sy), np.array([[c, -s], [s, c]]), deg)
    palette = [_random_colour(rng) for _ in range(rng.integers(2, 4))]
    outline = rng.random() < 0.4
    for kind, params in CLASSES[label](rng):
        alpha = _part_mask(kind, params, place, size)
        img = img * (1 - alpha) + _texture(rng, palette[rng.integers(len(palette))], size) * alpha
        if outline:
            edge = cv2.morphologyEx(alpha[..., 0], cv2.MORPH_GRADIENT, np.ones((2, 2), np.uint8))[..., None]
            img = img * (1 - edge) + 20.0 * edge
    img += rng.normal(0, rng.uniform(0, 6), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _write_class(job):
    out, split, label, count, size, seed = job
    folder = os.path.join(out, split, wnid(label))
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        rng = np.random.default_rng([seed, SPLITS.index(split), label, i])
        path = os.path.join(folder, "%s_%05d.JPEG" % (wnid(label), i))
        cv2.imwrite(path, draw_image(label, rng, size)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return count


def make_toy_dataset(out, num_classes=10, train_per_class=1000, val_per_class=100, size=96, seed=0, workers=None):
    """Write the toy dataset under ``out`` and return ``out``; same arguments give byte-identical files."""
    if not 1 <= num_classes <= len(CLASSES):
        raise ValueError("--num-classes must be in 1..%d (the drawn object classes), got %d"
                         % (len(CLASSES), num_classes))
    if size < 32 or train_per_class < 1 or val_per_class < 0:
        raise ValueError("--size must be >= 32, --train-per-class >= 1 and --val-per-class >= 0")
    ensure_writable_dir(out, "output dir")
    jobs = [(out, split, label, n, size, seed) for split, n in zip(SPLITS, (train_per_class, val_per_class))
            for label in range(num_classes) if n > 0]
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    cv2.setNumThreads(1)
    if workers <= 1:
        list(map(_write_class, jobs))
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            pool.map(_write_class, jobs, chunksize=1)
    with open(os.path.join(out, CLASS_NAMES_FILE), "w") as f:
        f.writelines("%s %s\n" % (wnid(k), CLASSES[k].__name__) for k in range(num_classes))
    return out


def sample_grid(out, png, per_class=8):
    """Save a PNG grid of the first ``per_class`` train images of every class (one row per class)."""
    rows = []
    for name in sorted(os.listdir(os.path.join(out, "train"))):
        folder = os.path.join(out, "train", name)
        files = sorted(os.listdir(folder))[:per_class]
        rows.append(np.concatenate([cv2.imread(os.path.join(folder, f)) for f in files], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    cv2.imwrite(png, np.concatenate(rows, axis=0))


def main(argv=None):
    """Command line entry point."""
    p = cli.CliParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output root (gets train/ and val/)")
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--train-per-class", type=int, default=1000)
    p.add_argument("--val-per-class", type=int, default=100)
    p.add_argument("--size", type=int, default=96, help="image side in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--grid", default=None, help="also write a PNG grid of samples here")
    args = p.parse_args(argv)
    def make():
        make_toy_dataset(args.out, args.num_classes, args.train_per_class, args.val_per_class, args.size,
                         args.seed, args.workers)
        if args.grid:
            sample_grid(args.out, args.grid)
        print("wrote %d classes x (%d train + %d val) images of %d px to %s"
              % (args.num_classes, args.train_per_class, args.val_per_class, args.size, args.out))
    return cli.exit_status(make)


if __name__ == "__main__":
    cli.run(main)
