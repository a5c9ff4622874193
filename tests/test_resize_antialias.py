"""Antialiased bilinear resize (``interpolation="bilinear_antialias"``) against Pillow's bilinear resize, which
widens the triangle filter by the scale when it shrinks, as DALI's resize with ``antialias=True`` does."""
import numpy as np
import pytest
from PIL import Image

from common.data.augment import resize
from common.tf1 import tf
from counting.data import train_augment, val_augment


@pytest.mark.parametrize("shape,size", [((37, 53), (13, 20)), ((40, 30), (40, 30)), ((64, 48), (17, 31))])
def test_antialiased_resize_matches_pillow(shape, size):
    img = np.random.RandomState(sum(shape)).uniform(0, 255, shape + (3,)).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        out = sess.run(resize(tf.constant(img), size, "bilinear_antialias"))
    want = np.stack([np.asarray(Image.fromarray(img[:, :, c], mode="F").resize(size[::-1], Image.BILINEAR))
                     for c in range(3)], -1)
    np.testing.assert_allclose(out, want, atol=1e-3)
    if size[0] < shape[0]:  # plain bilinear (no antialiasing) is far from it when shrinking
        with tf.Graph().as_default(), tf.Session() as sess:
            plain = sess.run(resize(tf.constant(img), size, "bilinear"))
        assert np.abs(plain - want).mean() > 1.0


def test_counting_resizes_with_antialiasing_as_its_release():
    train, val = train_augment(64, [0.08, 1.0], [0.4, 0.4, 0.4, 0.0]), val_augment(64, 73)
    assert train.interpolation == val.interpolation == "bilinear_antialias"
