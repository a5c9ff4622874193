"""Numerical pieces of classification/ against independent numpy: 10-crop geometry, score averaging, top-k
errors, seam minimality, TensorPack's LR schedule (worked values) and the label-smoothed loss."""
import itertools

import numpy as np
import pytest

from classification import crops, scores, seam_carving
from classification.schedule import lr_schedule
from common.config import load_config

RNG = np.random.RandomState(0)


def test_ten_crop_geometry_matches_numpy_slices():
    """The seed's boxes: five crops of the image, then the same five of its mirror (W - size odd: 14 - 5 = 9)."""
    image = RNG.randint(0, 256, (9, 14, 3)).astype(np.uint8)
    out = crops.ten_crop(image, 5)
    assert out.shape == (10, 5, 5, 3)
    mirrored = np.ascontiguousarray(image[:, ::-1])
    for k, src in enumerate((image, mirrored)):
        expected = [src[0:5, 0:5], src[0:5, 9:14], src[4:9, 0:5], src[4:9, 9:14], src[2:7, 4:9]]
        for j, want in enumerate(expected):
            np.testing.assert_array_equal(out[5 * k + j], want)
    np.testing.assert_array_equal(out[9][:, ::-1], image[2:7, 5:10])  # not the centre crop's mirror: one px off
    np.testing.assert_array_equal(out[4], crops.center_crop(image, 5))


def test_test_views_resize_shorter_then_crop():
    image = RNG.randint(0, 256, (40, 60, 3)).astype(np.uint8)
    resized = crops.resize_shorter(image, 20)
    assert resized.shape == (20, 30, 3)
    np.testing.assert_array_equal(crops.test_views(image, 16, 20, 1)[0], resized[2:18, 7:23])
    assert crops.test_views(image, 16, 20, 10).shape == (10, 16, 16, 3)
    with pytest.raises(ValueError, match="smaller than"):
        crops.center_crop(image, 41)


def test_resize_rounding_round_and_floor():
    image = RNG.randint(0, 256, (30, 47, 3)).astype(np.uint8)
    assert crops.resize_shorter(image, 20, "bilinear").shape == (20, 31, 3)  # 47 * 20 / 30 = 31.33
    assert crops.resize_shorter(image[:, :46], 20, "bilinear").shape == (20, 31, 3)  # 30.67 rounded
    assert crops.resize_shorter(image[:, :46], 20, "bilinear", "floor").shape == (20, 30, 3)  # int(30.67)
    assert crops.resize_shorter(image.transpose(1, 0, 2), 20, "bilinear", "floor").shape == (31, 20, 3)


def test_extra_view_is_appended_after_the_ten_crops():
    image = RNG.randint(0, 256, (20, 26, 3)).astype(np.uint8)
    views = crops.test_views(image, 16, 20, 10, extra=lambda resized: resized[:16, -16:] + 1)
    assert views.shape == (11, 16, 16, 3)
    np.testing.assert_array_equal(views[:10], crops.test_views(image, 16, 20, 10))
    np.testing.assert_array_equal(views[10], image[:16, -16:] + 1)


def test_normalize():
    image = RNG.randint(0, 256, (6, 10, 3)).astype(np.uint8)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    want = (image / 255.0 - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(crops.normalize(image, mean, std), want, rtol=1e-5, atol=1e-5)


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_model_averaging_of_two_models_against_numpy():
    p1, p2 = _softmax(RNG.randn(50, 7)), _softmax(RNG.randn(50, 7))
    labels = RNG.randint(0, 7, 50)
    avg = scores.average_probabilities([p1, p2])
    np.testing.assert_allclose(avg, (p1 + p2) / 2)
    rank = np.array([np.sum(avg[i] > avg[i, labels[i]]) for i in range(50)])  # classes scoring higher
    np.testing.assert_array_equal(scores.topk_wrong(avg, labels, 1), rank >= 1)
    np.testing.assert_array_equal(scores.topk_wrong(avg, labels, 5), rank >= 5)
    with pytest.raises(ValueError, match="different shapes"):
        scores.average_probabilities([p1, p2[:, :3]])


def test_topk_classes_sorted():
    probs = np.array([0.1, 0.5, 0.15, 0.25])
    assert scores.topk_classes(probs, 3) == [(1, 0.5), (3, 0.25), (2, 0.15)]


def _brute_force_seam_cost(e):
    h, w = e.shape
    best = np.inf
    for start in range(w):
        for moves in itertools.product((-1, 0, 1), repeat=h - 1):
            cols = np.cumsum((start,) + moves)
            if cols.min() >= 0 and cols.max() < w:
                best = min(best, e[np.arange(h), cols].sum())
    return best


def test_seam_is_minimal_against_brute_force():
    for _ in range(5):
        e = RNG.rand(5, 6)
        seam = seam_carving.find_vertical_seam(e)
        assert np.all(np.abs(np.diff(seam)) <= 1) and seam.min() >= 0 and seam.max() < 6
        assert e[np.arange(5), seam].sum() == pytest.approx(_brute_force_seam_cost(e))


def test_seam_removal_deletes_one_pixel_per_row():
    image = RNG.randint(0, 256, (8, 12, 3)).astype(np.uint8)
    seam = seam_carving.find_vertical_seam(seam_carving.energy(image))
    out = seam_carving.remove_vertical_seam(image, seam)
    for i in range(8):
        np.testing.assert_array_equal(out[i], np.delete(image[i], seam[i], axis=0))


def test_seam_carving_keeps_the_high_energy_object():
    image = np.zeros((10, 14, 3), np.uint8)
    image[3:7, 9:12] = 255  # a bright square near the right border
    out = seam_carving.carve(image, 10)
    assert out.shape == (10, 10, 3) and (out == 255).all(axis=2).sum() == 12


def test_lr_schedule_worked_values():
    cfg = load_config("exp_configs/classification.json:tp_ilsvrc_resnet50")
    piecewise, warmup = lr_schedule(cfg, 256)
    want = [(0, 0.1), (30, 0.01), (60, 0.001), (90, 1e-4), (100, 1e-5)]
    assert [e for e, _ in piecewise] == [e for e, _ in want] and warmup is None
    np.testing.assert_allclose([v for _, v in piecewise], [v for _, v in want])
    assert cfg["epochs"] == 105 and cfg["weight_decay"] == 1e-4
    piecewise, warmup = lr_schedule(cfg, 1024)
    np.testing.assert_allclose([v for _, v in piecewise], [0.1, 0.04, 0.004, 4e-4, 4e-5])
    assert warmup == [(0, 0.1), (5, pytest.approx(0.4))]
    alex = load_config("exp_configs/classification.json:tp_ilsvrc_alexnet")
    piecewise, warmup = lr_schedule(alex, 256)
    assert warmup is None
    np.testing.assert_allclose([v for _, v in piecewise], [0.02, 0.002, 2e-4, 2e-5])
    assert [e for e, _ in piecewise] == [0, 30, 60, 80]


def test_label_smoothing_loss_against_numpy():
    from classification.model import classification_loss
    from common.tf1 import tf
    logits = RNG.randn(6, 5).astype(np.float32)
    labels = RNG.randint(0, 5, 6)
    logp = np.log(_softmax(logits.astype(np.float64)))
    with tf.Graph().as_default(), tf.Session() as sess:
        for eps in (0.0, 0.1):
            got = sess.run(classification_loss(tf.constant(logits), tf.constant(labels, tf.int64), 5, eps))
            target = np.eye(5)[labels] * (1 - eps) + eps / 5
            assert got == pytest.approx(-(target * logp).sum(axis=1).mean(), rel=1e-5)
