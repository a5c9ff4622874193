"""revisiting.preprocess: each op of the mini-language against numpy, on one image and on batches."""
import numpy as np
import pytest

from common.tf1 import tf
from revisiting.preprocess import get_preprocess_fn, patch_geometry, OPS

RNG = np.random.RandomState(0)


def run(spec, image, is_training=False, label=None, **params):
    with tf.Graph().as_default():
        fn = get_preprocess_fn(spec, is_training, **params)
        data = {"image": tf.constant(image)}
        if label is not None:
            data["label"] = tf.constant(label)
        out = fn(data)
        with tf.Session() as sess:
            return sess.run(out)


def find_offset(big, small):
    """All (y, x) where ``small`` sits inside ``big`` (HWC)."""
    hits = []
    for y in range(big.shape[0] - small.shape[0] + 1):
        for x in range(big.shape[1] - small.shape[1] + 1):
            if np.array_equal(big[y:y + small.shape[0], x:x + small.shape[1]], small):
                hits.append((y, x))
    return hits


def test_rotate_matches_np_rot90_and_labels():
    img = RNG.randint(0, 256, (6, 6, 3)).astype(np.uint8)
    out = run("rotate", img, label=np.int64(7))
    assert out["image"].shape == (4, 6, 6, 3)
    for k in range(4):
        np.testing.assert_array_equal(out["image"][k], np.rot90(img, k))
    np.testing.assert_array_equal(out["label"], [0, 1, 2, 3])
    batch = RNG.rand(3, 5, 5, 3).astype(np.float32)
    out = run("rotate", batch, label=np.zeros(3, np.int64))
    assert out["image"].shape == (3, 4, 5, 5, 3) and out["label"].shape == (3, 4)
    np.testing.assert_array_equal(out["image"][2, 3], np.rot90(batch[2], 3))


def test_crop_patches_eval_is_central_grid_row_major():
    img = RNG.rand(31, 33, 3).astype(np.float32)
    out = run("crop_patches", img, splits_per_side=3, patch_jitter=3)["image"]
    assert out.shape == (9, 7, 8, 3)
    for row in range(3):
        for col in range(3):
            y, x = row * 10 + 1, col * 11 + 1
            np.testing.assert_array_equal(out[row * 3 + col], img[y:y + 7, x:x + 8])


def test_crop_patches_train_stays_inside_its_cell():
    img = RNG.rand(24, 24, 1).astype(np.float32)
    out = run("crop_patches", img, is_training=True, splits_per_side=2, patch_jitter=4)["image"]
    assert out.shape == (4, 8, 8, 1)
    for idx in range(4):
        row, col = divmod(idx, 2)
        cell = img[row * 12:(row + 1) * 12, col * 12:(col + 1) * 12]
        assert find_offset(cell, out[idx]), "patch %d is not inside its cell" % idx


def test_spec_patch_geometry():
    assert patch_geometry(255, 255, 3, 21) == ((85, 85), (64, 64))
    assert patch_geometry(192, 192, 3, 0) == ((64, 64), (64, 64))
    with pytest.raises(ValueError, match="too small for splits_per_side=3"):
        patch_geometry(20, 20, 3, 7)


def test_patch_task_string_shapes_and_standardisation():
    img = RNG.randint(0, 256, (50, 40, 3)).astype(np.uint8)
    out = run("resize,to_gray,crop,crop_patches,standardization", img, is_training=True, resize_size="292,292",
              grayscale_probability=0.66, crop_size=255, splits_per_side=3, patch_jitter=21)["image"]
    assert out.shape == (9, 64, 64, 3)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-3)


def test_to_gray_is_floor_mean_and_independent_per_image():
    img = RNG.randint(0, 256, (4, 5, 3)).astype(np.uint8)
    out = run("to_gray", img, grayscale_probability=1.0)["image"]
    expected = np.floor(img.astype(np.float64).mean(axis=2, keepdims=True)).astype(np.uint8)
    np.testing.assert_array_equal(out, np.tile(expected, [1, 1, 3]))
    np.testing.assert_array_equal(run("to_gray", img, grayscale_probability=0.0)["image"], img)
    batch = RNG.rand(200, 2, 2, 3).astype(np.float32)
    out = run("to_gray", batch, grayscale_probability=0.5)["image"]
    gray = np.all(np.isclose(out, out[..., :1]), axis=(1, 2, 3))
    np.testing.assert_allclose(out[gray], np.tile(batch[gray].mean(axis=3, keepdims=True), [1, 1, 1, 3]), 1e-6)
    np.testing.assert_array_equal(out[~gray], batch[~gray])
    assert 60 < gray.sum() < 140


def test_standardization_matches_numpy_with_std_floor():
    batch = RNG.rand(2, 3, 4, 5, 3).astype(np.float32) * 255
    batch[1, 2] = 7.0  # constant patch: std floored at 1/sqrt(n)
    out = run("standardization", batch)["image"]
    flat = batch.reshape(6, -1)
    std = np.maximum(flat.std(axis=1, keepdims=True), 1 / np.sqrt(flat.shape[1]))
    np.testing.assert_allclose(out.reshape(6, -1), (flat - flat.mean(axis=1, keepdims=True)) / std, atol=1e-4)


def test_crop_eval_central_train_random_inside():
    img = RNG.rand(9, 12, 3).astype(np.float32)
    np.testing.assert_array_equal(run("crop", img, crop_size="4,5")["image"], img[2:6, 3:8])
    np.testing.assert_array_equal(run("central_crop", img, is_training=True, crop_size=3)["image"], img[3:6, 4:7])
    batch = RNG.rand(3, 9, 12, 3).astype(np.float32)
    out = run("crop", batch, is_training=True, crop_size="4,5")["image"]
    assert out.shape == (3, 4, 5, 3)
    for i in range(3):
        assert find_offset(batch[i], out[i])


def test_value_scalings_and_resize_sizes():
    img = RNG.randint(0, 256, (10, 20, 3)).astype(np.uint8)
    np.testing.assert_allclose(run("-1_to_1", img)["image"], img / 127.5 - 1, atol=1e-6)
    np.testing.assert_allclose(run("0_to_1", img)["image"], img / 255.0, atol=1e-6)
    assert run("resize_small", img, smaller_size=5)["image"].shape == (5, 10, 3)
    assert run("resize", img, resize_size="7,8")["image"].shape == (7, 8, 3)
    out = run("resize", img, is_training=True, resize_size=6, randomize_resize_method=True)["image"]
    assert out.shape == (6, 6, 3) and out.dtype == np.float32


def test_resize_is_tf1_bilinear_without_half_pixel_centres():
    img = RNG.rand(4, 6, 1).astype(np.float32)
    out = run("resize", img, resize_size="8,3")["image"][..., 0]
    ys, xs = np.arange(8) * 4 / 8, np.arange(3) * 6 / 3
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, 3), np.minimum(x0 + 1, 5)
    wy, wx = (ys - y0)[:, None], (xs - x0)[None, :]
    a = img[..., 0]
    expected = ((1 - wy) * ((1 - wx) * a[y0][:, x0] + wx * a[y0][:, x1])
                + wy * ((1 - wx) * a[y1][:, x0] + wx * a[y1][:, x1]))
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_inception_ops_shapes_and_range():
    img = RNG.randint(0, 256, (40, 50, 3)).astype(np.uint8)
    for training in (True, False):
        out = run("inception_preprocess,rotate", img, is_training=training, resize_size="16,16")
        assert out["image"].shape == (4, 16, 16, 3)
        assert out["image"].min() >= -1 and out["image"].max() <= 1
    out = run("to_gray,crop_inception_preprocess_patches,standardization", img, is_training=True,
              resize_size=16, num_of_inception_patches=8, grayscale_probability=1.0)["image"]
    assert out.shape == (8, 16, 16, 3)
    assert not np.allclose(out[0], out[1]), "copies must be independent crops"
    np.testing.assert_allclose(out[..., 0], out[..., 2], atol=1e-4)  # one gray decision for all copies
    assert run("inception_crop,flip_lr,plain_preprocess", img)["image"].shape == img.shape


def test_bad_input_is_one_clear_error():
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="unknown preprocessing op 'rotat'.*valid ops: .*rotate"):
        get_preprocess_fn("inception_preprocess,rotat", True, resize_size=224)
    with pytest.raises(ValueError, match="needs the parameter splits_per_side"):
        get_preprocess_fn("crop_patches", True)
    with pytest.raises(ValueError, match="unknown preprocessing parameter"):
        get_preprocess_fn("rotate", True, resize=3)
    with pytest.raises(ValueError, match="too small for splits_per_side=3"):
        run("crop_patches", img, splits_per_side=3, patch_jitter=3)
    with pytest.raises(ValueError, match="crop_size"):
        get_preprocess_fn("crop", True, crop_size="a,b")
    assert len(OPS) == 15


def test_make_dataset_preprocess_hook_sees_decoded_examples(toy_record_dir):
    """common.data.input.make_dataset(preprocess=...): the hook gets uint8 HxWx3 + label + index per example
    (the same pixels as the reader's raw decode) and its dicts come out batched; DALI refuses hooks."""
    from common.data.augment import AugmentConfig
    from common.data.input import make_dataset
    from revisiting.data import make_input

    def hook(ex):
        return dict(ex, image=tf.image.rot90(ex["image"], 1), label=ex["label"] + 100)
    with tf.Graph().as_default():
        raw = make_dataset(toy_record_dir, "validation", 4, AugmentConfig(size=96, crop="none", normalize=False),
                           shuffle=False, repeat=False)
        hooked = make_dataset(toy_record_dir, "validation", 4, None, shuffle=False, repeat=False, preprocess=hook)
        pairs = make_input(toy_record_dir, "test", 4, get_preprocess_fn("-1_to_1", False), False)
        with tf.Session() as sess:
            image, label, index = sess.run(tf.data.make_one_shot_iterator(raw).get_next())
            out = sess.run(tf.data.make_one_shot_iterator(hooked).get_next())
            pair_image, pair_label = sess.run(tf.data.make_one_shot_iterator(pairs).get_next())
    assert out["image"].dtype == np.uint8
    np.testing.assert_array_equal(out["image"], np.rot90(image, 1, axes=(1, 2)))
    np.testing.assert_array_equal(out["label"], label + 100)
    np.testing.assert_array_equal(out["index"], index)
    np.testing.assert_allclose(pair_image, image / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(pair_label, label)
    with pytest.raises(ValueError, match="reader='tfdata'"):
        make_dataset(toy_record_dir, "train", 4, None, reader="dali", preprocess=hook)
    with pytest.raises(ValueError, match="either augment or preprocess"):
        make_dataset(toy_record_dir, "train", 4, AugmentConfig(), preprocess=hook)
