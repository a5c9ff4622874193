"""Counting model: x/y pairing, the randomly resized whole image D(.), the 2x2 tiles T_j(.), phi and the loss.

As in the release's ``nets/model.py``: a tower batch of B images is split into x = rows 0..B/2-1 and y = rows B/2..B-1;
each image is downsampled to half size with one of five resize methods drawn per sample, and cut into
four half-size quadrants; the loss asks phi(D(x)) to equal the sum of the tile counts of x and to be
at least a margin away from the tile counts of the paired image y (and symmetrically for y).
"""
from tensorpack import ModelDesc
from tensorpack.tfutils.summary import add_moving_summary
from tensorpack.tfutils.tower import get_current_tower_context

from common.models.registry import get_model
from common.tf1 import tf
from counting.optimizers import make_optimizer

__all__ = ["RESIZE_METHODS", "RESIZE_THRESHOLDS", "split_pairs", "resize_like_tf2", "random_downsample",
           "tiles", "counting_loss", "tile_distances", "count_vectors", "counting_tower", "CountingModel"]

# Per-sample method choice of the release: r ~ U[0,1), r < 0.2 bilinear, < 0.4 lanczos5, < 0.6 area,
# < 0.8 nearest, else bicubic.
RESIZE_METHODS = ("bilinear", "lanczos5", "area", "nearest", "bicubic")
RESIZE_THRESHOLDS = (0.2, 0.4, 0.6, 0.8)


def split_pairs(images):
    """Split a tower batch ``[B, H, W, C]`` into the x half (first B/2 rows) and the y half (last B/2 rows)."""
    batch = images.shape.as_list()[0]
    if batch is None:
        raise ValueError("counting needs a static tower batch size (the x/y halves are paired row by row)")
    if batch % 2:
        raise ValueError("--batch_size %d is odd: the counting task pairs the first and second half of each "
                         "tower batch, so it must be even" % batch)
    half = batch // 2
    return images[:half], images[half:]


def resize_like_tf2(images, size, method):
    """``tf.image.resize`` with TF 2 semantics (half-pixel centres, no antialiasing), from TF 1.15 ops."""
    size = [int(size), int(size)]
    if method == "bilinear":
        return tf.image.resize_bilinear(images, size, half_pixel_centers=True)
    if method == "nearest":
        return tf.image.resize_nearest_neighbor(images, size, half_pixel_centers=True)
    if method == "bicubic":
        return tf.image.resize_bicubic(images, size, half_pixel_centers=True)
    if method == "area":
        return tf.image.resize_area(images, size)
    if method == "lanczos5":
        in_hw = tf.cast(tf.shape(images)[1:3], tf.float32)
        scale = tf.constant(size, tf.float32) / in_hw
        return tf.raw_ops.ScaleAndTranslate(images=images, size=size, scale=scale, translation=tf.zeros([2]),
                                            kernel_type="lanczos5", antialias=False)
    raise ValueError("unknown resize method %r; valid: %s" % (method, ", ".join(RESIZE_METHODS)))


def random_downsample(images, size, seed=None):
    """D(.): resize each image to ``size`` x ``size`` with a method drawn per sample (each with probability 0.2).

    All five resizes are computed for the whole batch and one is picked per row, as the release does with a
    rank-1 TF1 ``where``. Returns ``(resized, method_index)``, the index into ``RESIZE_METHODS``.
    """
    r = tf.random_uniform([tf.shape(images)[0]], seed=seed)
    index = tf.add_n([tf.cast(r >= t, tf.int32) for t in RESIZE_THRESHOLDS])
    resized = [resize_like_tf2(images, size, m) for m in RESIZE_METHODS]
    out = resized[0]
    for k in range(1, len(RESIZE_METHODS)):
        out = tf.where(tf.equal(index, k), resized[k], out)
    return out, index


def tiles(images):
    """T_1..T_4: the 2x2 quadrants at full resolution, ordered top-left, bottom-left, top-right, bottom-right."""
    h, w = images.shape.as_list()[1:3]
    if h is None or w is None or h % 2 or w % 2:
        raise ValueError("counting tiles need a static, even image size, got %sx%s" % (h, w))
    h2, w2 = h // 2, w // 2
    return [images[:, :h2, :w2], images[:, h2:, :w2], images[:, :h2, w2:], images[:, h2:, w2:]]


def _sq_dist(a, b):
    return tf.reduce_sum(tf.square(a - b), axis=1)


def counting_loss(phi_d_x, phi_d_y, phi_tiles_x, phi_tiles_y, margin=10.0):
    """The release's counting loss; returns ``(loss, pair, unpair)`` with ``loss = L_x + L_y = pair + unpair``.

    ``phi_*`` are ``[B, D]`` count vectors, ``phi_tiles_*`` lists of four. The hinge acts on the scalar
    squared distance: ``unpair_x[i] = max(0, margin - |phi(D y_i) - sum_j phi(T_j x_i)|^2)``.
    """
    s_x = tf.add_n(list(phi_tiles_x))
    s_y = tf.add_n(list(phi_tiles_y))
    pair_x = tf.reduce_mean(_sq_dist(phi_d_x, s_x))
    pair_y = tf.reduce_mean(_sq_dist(phi_d_y, s_y))
    unpair_x = tf.reduce_mean(tf.maximum(0.0, margin - _sq_dist(phi_d_y, s_x)))
    unpair_y = tf.reduce_mean(tf.maximum(0.0, margin - _sq_dist(phi_d_x, s_y)))
    pair = pair_x + pair_y
    unpair = unpair_x + unpair_y
    return pair + unpair, pair, unpair


def tile_distances(phi_d_x, phi_d_y, phi_tiles_x, phi_tiles_y):
    """The release's logged distances: unpaired x, unpaired y (before the hinge) and D_x to D_y."""
    s_x = tf.add_n(list(phi_tiles_x))
    s_y = tf.add_n(list(phi_tiles_y))
    return {"tile_distance_x": tf.reduce_mean(_sq_dist(phi_d_y, s_x)),
            "tile_distance_y": tf.reduce_mean(_sq_dist(phi_d_x, s_y)),
            "tile_distance_x_y": tf.reduce_mean(_sq_dist(phi_d_x, phi_d_y))}


def count_vectors(views, logits_dim, backbone="alexnet_counting", data_format="NHWC"):
    """phi of each view: one shared-weight AlexNet pass over all views stacked, fc8 (after ReLU) split back.

    Equivalent to the release's ten separate calls with reused weights (no batch statistics anywhere).
    ``views`` are NHWC; ``data_format`` is the layout the backbone computes in.
    """
    sizes = [v.shape.as_list()[0] for v in views]
    endpoints = get_model(backbone)(tf.concat(views, axis=0), is_training=True, num_classes=logits_dim,
                                    data_format=data_format)
    return tf.split(endpoints["logits"], sizes, axis=0)


def counting_tower(imgs, logits_dim, margin=10.0, backbone="alexnet_counting", data_format="NHWC"):
    """One tower of the counting task on a ``[B, S, S, 3]`` batch; returns ``(loss, pair, unpair, phi)``.

    ``phi`` lists the ten count vectors: D_x, D_y, T_x1..T_x4, T_y1..T_y4.
    """
    x, y = split_pairs(imgs)
    half = imgs.shape.as_list()[1] // 2
    views = [random_downsample(x, half)[0], random_downsample(y, half)[0]] + tiles(x) + tiles(y)
    phi = count_vectors(views, logits_dim, backbone, data_format)
    loss, pair, unpair = counting_loss(phi[0], phi[1], phi[2:6], phi[6:10], margin)
    return loss, pair, unpair, phi


class CountingModel(ModelDesc):
    """Phase 1 (``Counter_Model``, ``linear_classifier=False``): the counting loss on one tower batch."""

    def __init__(self, batch_size, image_size, logits_dim, opt, margin=10.0, backbone="alexnet_counting"):
        self.batch_size, self.image_size, self.logits_dim, self.opt = batch_size, image_size, logits_dim, opt
        self.margin, self.backbone = margin, backbone

    def inputs(self):
        shape = [self.batch_size, self.image_size, self.image_size, 3]
        return [tf.TensorSpec(shape, tf.float32, "imgs"), tf.TensorSpec([self.batch_size], tf.int64, "label"),
                tf.TensorSpec([self.batch_size], tf.int64, "index")]

    def build_graph(self, imgs, label, index):
        loss, pair, unpair, phi = counting_tower(imgs, self.logits_dim, self.margin, self.backbone)
        phi_d_x, phi_d_y, phi_t_x, phi_t_y = phi[0], phi[1], phi[2:6], phi[6:10]
        loss = tf.identity(loss, name="loss_sum")
        if get_current_tower_context().is_main_training_tower:
            scalars = {"loss/loss": loss, "loss/pair": pair, "loss/unpair": unpair,
                       "count/D_x": tf.reduce_mean(phi_d_x), "count/D_y": tf.reduce_mean(phi_d_y)}
            scalars.update({"count/T_x_%d" % (j + 1): tf.reduce_mean(t) for j, t in enumerate(phi_t_x)})
            scalars.update(tile_distances(phi_d_x, phi_d_y, phi_t_x, phi_t_y))
            for name, value in sorted(scalars.items()):
                tf.summary.scalar(name, value)
            add_moving_summary(loss, tf.identity(pair, name="loss_pair"), tf.identity(unpair, name="loss_unpair"))
        return loss

    def optimizer(self, lr):
        """The release's ``--opt`` on the rate ``lr`` (``lr_cnt``, made by ``launch_train`` from the schedule)."""
        return make_optimizer(self.opt, lr)
