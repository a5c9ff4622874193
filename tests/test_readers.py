"""Augmentation ops against numpy on random inputs; tf.data and DALI readers: epochs, sharding, equivalence."""
import colorsys
import io
import math

import cv2
import numpy as np
import pytest
from PIL import Image

from common.data import augment as A
from common.data.augment import AugmentConfig
from common.data.input import dali_available, make_dataset
from common.data.records import list_shards
from common.tf1 import tf
from tests.test_build_tfrs import read_records

GRAY = np.array(A.GRAY_WEIGHTS)


def run(fn, *arrays):
    """Evaluate ``fn(*constants)`` in a fresh graph."""
    with tf.Graph().as_default(), tf.Session() as sess:
        return sess.run(fn(*[tf.constant(a) for a in arrays]))


def rand_image(rng, h=9, w=7):
    return rng.uniform(0, 255, (h, w, 3)).astype(np.float32)


def np_gray(img):
    return np.repeat((img @ GRAY)[..., None], 3, axis=2)


def np_hue(img, delta):
    out = np.empty_like(img)
    for idx in np.ndindex(img.shape[:2]):
        h, s, v = colorsys.rgb_to_hsv(*(img[idx] / 255.0))
        out[idx] = np.array(colorsys.hsv_to_rgb((h + delta) % 1.0, s, v)) * 255.0
    return out


NP_OPS = [lambda x, f: np.clip(x * f, 0, 255),
          lambda x, f: np.clip(f * x + (1 - f) * (x @ GRAY).mean(), 0, 255),
          lambda x, f: np.clip(f * x + (1 - f) * np_gray(x), 0, 255),
          lambda x, f: np.clip(np_hue(x, f), 0, 255)]


def test_colour_ops_match_numpy():
    rng = np.random.RandomState(0)
    img = rand_image(rng)
    np.testing.assert_allclose(run(A.grayscale, img), np_gray(img), rtol=1e-5, atol=1e-3)
    for k, op in enumerate((A.adjust_brightness, A.adjust_contrast, A.adjust_saturation)):
        f = np.float32(rng.uniform(0.3, 1.7))
        np.testing.assert_allclose(run(lambda x: op(x, f), img), NP_OPS[k](img, f), rtol=1e-5, atol=1e-2)
    d = np.float32(rng.uniform(-0.4, 0.4))
    np.testing.assert_allclose(run(lambda x: A.adjust_hue(x, d), img), np_hue(img, d), atol=0.5)


def test_apply_jitter_composes_in_the_given_order():
    rng = np.random.RandomState(1)
    for _ in range(3):
        img = rand_image(rng)
        factors = np.float32(list(rng.uniform(0.6, 1.4, 3)) + [rng.uniform(-0.4, 0.4)])
        order = rng.permutation(4).astype(np.int32)
        expect = img
        for k in order:
            expect = NP_OPS[k](expect, factors[k])
        got = run(lambda x, f, o: A.apply_jitter(x, f, o), img, factors, order)
        np.testing.assert_allclose(got, expect, atol=0.6)


def test_color_jitter_factor_range_and_random_order():
    img = np.full((4, 4, 3), 100.0, np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        out = A.color_jitter(tf.constant(img), (0.4, 0.0, 0.0, 0.0), seed=3)
        ratios = np.array([sess.run(out)[0, 0, 0] / 100.0 for _ in range(200)])
        order = tf.random.shuffle(tf.range(4), seed=5)
        orders = {tuple(sess.run(order)) for _ in range(200)}
    assert 0.6 <= ratios.min() < 0.65 and 1.35 < ratios.max() <= 1.4 and abs(ratios.mean() - 1.0) < 0.05
    assert len(orders) > 15  # the 24 permutations all occur


def test_random_grayscale_probability():
    img = rand_image(np.random.RandomState(2))
    with tf.Graph().as_default(), tf.Session() as sess:
        out = A.random_grayscale(tf.constant(img), 0.3, seed=1)
        gray = [np.allclose(sess.run(out), np_gray(img), atol=1e-3) for _ in range(300)]
    assert abs(np.mean(gray) - 0.3) < 0.08


def test_lighting_offset_and_noise_scale():
    rng = np.random.RandomState(3)
    alpha = rng.normal(0, 0.1, 3).astype(np.float32)
    expect = np.array(A.EIGVEC) @ (alpha * np.array(A.EIGVAL) * 255)
    np.testing.assert_allclose(run(A.lighting_offset, alpha), expect, rtol=1e-5)
    img = np.full((2, 2, 3), 128.0, np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        out = A.lighting(tf.constant(img), 0.1, seed=4)
        offsets = np.array([sess.run(out)[0, 0] - 128.0 for _ in range(400)])
    recovered = np.linalg.solve(np.array(A.EIGVEC), offsets.T).T / (np.array(A.EIGVAL) * 255)
    np.testing.assert_allclose(recovered.std(0), 0.1, rtol=0.15)


def test_normalize_matches_numpy():
    img = rand_image(np.random.RandomState(4))
    expect = (img / 255.0 - np.array(A.IMAGENET_MEAN)) / np.array(A.IMAGENET_STD)
    np.testing.assert_allclose(run(A.normalize, img), expect, rtol=1e-5, atol=1e-5)


def np_rrc_window(rng, h, w, scale, ratio):
    """torchvision's RandomResizedCrop.get_params, written out in numpy."""
    for _ in range(10):
        area = h * w * rng.uniform(*scale)
        ar = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        cw, ch = int(round(math.sqrt(area * ar))), int(round(math.sqrt(area / ar)))
        if 0 < cw <= w and 0 < ch <= h:
            return rng.randint(0, h - ch + 1), rng.randint(0, w - cw + 1), ch, cw
    in_ratio = w / h
    if in_ratio < ratio[0]:
        cw, ch = w, int(round(w / ratio[0]))
    elif in_ratio > ratio[1]:
        ch, cw = h, int(round(h * ratio[1]))
    else:
        cw, ch = w, h
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def test_random_resized_crop_window_against_numpy():
    rng = np.random.RandomState(5)
    scale, ratio = (0.2, 1.0), (3 / 4, 4 / 3)
    for h, w in ((1, 100), (100, 1)):  # nothing fits in a sliver: the centred fallback
        expect = np_rrc_window(rng, h, w, scale, ratio)
        assert tuple(run(lambda: A.random_resized_crop_window(h, w, scale, ratio, seed=1))) == expect
    with tf.Graph().as_default(), tf.Session() as sess:
        win = A.random_resized_crop_window(60, 90, scale, ratio, seed=7)
        got = np.array([sess.run(win) for _ in range(400)])
    ref = np.array([np_rrc_window(rng, 60, 90, scale, ratio) for _ in range(400)])
    y, x, ch, cw = got.T
    assert (y >= 0).all() and (x >= 0).all() and (y + ch <= 60).all() and (x + cw <= 90).all()
    stats = (lambda a: a[:, 2] * a[:, 3] / 5400.0, lambda a: np.log(a[:, 3] / a[:, 2]), lambda a: a[:, 0] + a[:, 2] / 2)
    for stat in stats:
        assert abs(stat(got).mean() - stat(ref).mean()) < 4 * stat(ref).std() / math.sqrt(400)


def test_resize_crop_geometry_matches_opencv_and_numpy():
    rng = np.random.RandomState(6)
    img = rand_image(rng, 30, 50)
    np.testing.assert_allclose(run(lambda x: A.resize(x, [45, 75]), img),
                               cv2.resize(img, (75, 45), interpolation=cv2.INTER_LINEAR), atol=0.05)
    assert run(lambda x: A.resize_shorter(x, 20), img).shape == (20, int(20 * 50 / 30), 3)
    assert run(lambda x: A.resize_shorter(x, 20), img.transpose(1, 0, 2)).shape == (int(20 * 50 / 30), 20, 3)
    np.testing.assert_array_equal(run(lambda x: A.center_crop(x, 21), img), img[4:25, 14:35])
    with tf.Graph().as_default(), tf.Session() as sess:
        crop = A.random_crop(tf.constant(img), 10, seed=1)
        for _ in range(5):
            c = sess.run(crop)
            hits = [(i, j) for i in range(21) for j in range(41) if np.array_equal(img[i:i + 10, j:j + 10], c)]
            assert len(hits) == 1


def test_augment_config_errors():
    with pytest.raises(ValueError, match="AugmentConfig.crop='middle': expected one of random_resized, center"):
        AugmentConfig(crop="middle")
    with pytest.raises(ValueError, match="AugmentConfig.layout='CHW'"):
        AugmentConfig(layout="CHW")
    assert AugmentConfig(size=224).shorter_side == 256 and AugmentConfig(size=64, resize_shorter=80).shorter_side == 80


def test_preprocess_decodes_like_pil(toy_image_dir):
    path = "%s/train/n00000001/n00000001_00003.JPEG" % toy_image_dir
    data = open(path, "rb").read()
    ref = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float64)
    raw = run(lambda b: A.preprocess(b, AugmentConfig(crop="none", normalize=False)), data)
    assert raw.dtype == np.uint8 and raw.shape == (96, 96, 3)
    assert np.abs(raw - ref).max() <= 1  # same IDCT (ISLOW) as PIL: equal up to rounding
    cfg = AugmentConfig(size=64, crop="center", resize_shorter=72, layout="NCHW")
    got = run(lambda b: A.preprocess(b, cfg), data)
    small = cv2.resize(raw.astype(np.float32), (72, 72), interpolation=cv2.INTER_LINEAR)[4:68, 4:68]
    expect = ((small / 255.0 - np.array(A.IMAGENET_MEAN)) / np.array(A.IMAGENET_STD)).transpose(2, 0, 1)
    np.testing.assert_allclose(got, expect, atol=0.02)


def read_epoch(record_dir, split, batch, cfg, **kw):
    """All (images, labels, indices) of one pass of make_dataset."""
    with tf.Graph().as_default():
        it = tf.data.make_initializable_iterator(make_dataset(record_dir, split, batch, cfg, **kw))
        nxt = it.get_next()
        with tf.Session() as sess:
            sess.run(it.initializer)
            out = []
            while True:
                try:
                    out.append(sess.run(nxt))
                except tf.errors.OutOfRangeError:
                    break
    return [np.concatenate(parts) for parts in zip(*out)]


RAW = AugmentConfig(size=96, crop="none", normalize=False)
NEEDS_DALI = pytest.mark.skipif(not dali_available(), reason="the DALI TensorFlow plugin is not installed")
READERS = ("tfdata", pytest.param("dali", marks=NEEDS_DALI))


@pytest.mark.parametrize("reader", READERS)
def test_one_epoch_covers_every_index_once(toy_record_dir, reader):
    truth = {r[2]: r[1] for r in read_records(toy_record_dir, "train")}
    images, labels, index = read_epoch(toy_record_dir, "train", 32, RAW, reader=reader, shuffle=True, repeat=False,
                                       drop_remainder=False, seed=1)
    assert sorted(index) == list(range(160)) and labels.dtype == np.int64 and index.dtype == np.int64
    assert all(truth[i] == lab for i, lab in zip(index, labels)) and images.shape == (160, 96, 96, 3)
    assert list(index) != sorted(index)  # shuffled
    _, _, dropped = read_epoch(toy_record_dir, "train", 48, RAW, reader=reader, shuffle=True, repeat=False, seed=1)
    assert len(dropped) == 144 and len(set(dropped)) == 144


@pytest.mark.parametrize("reader,num_shards", [("tfdata", 2), ("tfdata", 3), pytest.param("dali", 3, marks=NEEDS_DALI)])
def test_workers_read_disjoint_parts(toy_record_dir, reader, num_shards):
    parts = [read_epoch(toy_record_dir, "validation", 8, RAW, reader=reader, num_shards=num_shards, shard_index=k,
                        drop_remainder=False)[2] for k in range(num_shards)]
    assert sorted(np.concatenate(parts)) == list(range(40))
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1


@NEEDS_DALI
def test_readers_agree_with_augmentation_off(toy_record_dir):
    a = read_epoch(toy_record_dir, "validation", 8, RAW, reader="tfdata")
    b = read_epoch(toy_record_dir, "validation", 8, RAW, reader="dali")
    np.testing.assert_array_equal(a[2], np.arange(40))  # validation: stored order
    np.testing.assert_array_equal(a[2], b[2])
    np.testing.assert_array_equal(a[1], b[1])
    assert np.abs(a[0].astype(int) - b[0].astype(int)).max() <= 1  # both decode with libjpeg's ISLOW IDCT
    cfg = AugmentConfig(size=64, crop="center", resize_shorter=72, layout="NCHW")
    c = read_epoch(toy_record_dir, "validation", 8, cfg, reader="tfdata")
    d = read_epoch(toy_record_dir, "validation", 8, cfg, reader="dali")
    assert c[0].shape == d[0].shape == (40, 3, 64, 64) and np.abs(c[0] - d[0]).mean() < 0.02


@pytest.mark.parametrize("reader", READERS)
def test_training_stream_repeats_with_full_augmentation(toy_record_dir, reader):
    cfg = AugmentConfig(size=48, crop="random_resized", scale=(0.2, 1.0), flip=True, color_jitter=(0.4, 0.4, 0.4, 0.1),
                        grayscale_prob=0.2, lighting_std=0.1)
    with tf.Graph().as_default():
        it = tf.data.make_initializable_iterator(make_dataset(toy_record_dir, "train", 64, cfg, reader=reader, seed=2))
        nxt = it.get_next()
        with tf.Session() as sess:
            sess.run(it.initializer)
            batches = [sess.run(nxt) for _ in range(4)]  # 256 > 160: past the end of the epoch
    images = np.concatenate([b[0] for b in batches])
    assert images.shape == (256, 48, 48, 3) and images.dtype == np.float32 and np.isfinite(images).all()
    assert -2.2 < images.min() < -1.0 and 1.5 < images.max() < 2.7 and images.std() > 0.3


@pytest.mark.parametrize("reader", READERS)
def test_batches_have_static_shapes(toy_record_dir, reader):
    for crop in ("random_resized", "center", "random", "resize"):
        for layout, shape in (("NHWC", [8, 40, 40, 3]), ("NCHW", [8, 3, 40, 40])):
            with tf.Graph().as_default():
                ds = make_dataset(toy_record_dir, "train", 8, AugmentConfig(size=40, crop=crop, layout=layout),
                                  reader=reader)
                images, labels, index = tf.data.make_initializable_iterator(ds).get_next()
            assert images.shape.as_list() == shape and labels.shape.as_list() == index.shape.as_list() == [8]
            assert (images.dtype, labels.dtype, index.dtype) == (tf.float32, tf.int64, tf.int64)


def test_make_dataset_errors(toy_record_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown reader 'torch': expected one of tfdata, dali"):
        make_dataset(toy_record_dir, "train", 4, RAW, reader="torch")
    with pytest.raises(ValueError, match="unknown split 'val'"):
        make_dataset(toy_record_dir, "val", 4, RAW)
    with pytest.raises(ValueError, match="shard_index 2 out of range for num_shards 2"):
        make_dataset(toy_record_dir, "train", 4, RAW, num_shards=2, shard_index=2)
    with pytest.raises(ValueError, match="no validation-\\* TFRecord shards in %s" % tmp_path):
        make_dataset(str(tmp_path), "validation", 4, RAW)
    assert len(list_shards(toy_record_dir, "train")) == 2


def test_repeated_training_stream_is_a_permutation_per_epoch(toy_record_dir):
    """Memory-bank methods need it: no index twice in a batch, each epoch a permutation (minus its remainder)."""
    batch, per_epoch = 48, 160 // 48
    with tf.Graph().as_default():
        it = tf.data.make_initializable_iterator(make_dataset(toy_record_dir, "train", batch, RAW, seed=3))
        nxt = it.get_next()
        with tf.Session() as sess:
            sess.run(it.initializer)
            epochs = [np.concatenate([sess.run(nxt)[2] for _ in range(per_epoch)]) for _ in range(3)]
    for index in epochs:
        assert len(np.unique(index)) == len(index) == per_epoch * batch
    assert not np.array_equal(epochs[0], epochs[1])
