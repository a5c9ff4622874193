"""The release's augmentation as a DALI pipeline (classification/seed_dali.py) on the CPU: with the random ranges
collapsed, each image must be the resized, normalised record image (or its mirror), as computed with OpenCV."""
import cv2
import numpy as np
import pytest

from classification.eval_data import RecordImages
from common.config import load_config
from common.tf1 import tf


@pytest.mark.slow
def test_seed_dali_pipeline_without_randomness_is_resize_and_normalise(toy_record_dir):
    from classification.recipe import SeedAugment, resolve_recipe
    from classification.seed_dali import seed_dali_dataset
    cfg = resolve_recipe(load_config("exp_configs/classification.json:toy"))
    cfg.update(image_size=32, short_side=[32, 32], aspect_jitter=[1.0, 1.0], hue_jitter=0.0, saturation_jitter=0.0,
               value_jitter=0.0, lighting_std=0.0)
    with tf.Graph().as_default():
        ds = seed_dali_dataset(toy_record_dir, SeedAugment.from_config(cfg), 8)
        batch = tf.data.make_one_shot_iterator(ds).get_next()
        with tf.Session() as sess:
            images, _, index = sess.run(batch)
    assert images.shape == (8, 32, 32, 3)
    by_index = {int(i): image for image, _, i in RecordImages(toy_record_dir, "train")}
    mean, std = np.array(cfg["mean_bgr"][::-1]), np.array(cfg["std_bgr"][::-1])
    for got, i in zip(images, index):
        want = (cv2.resize(by_index[int(i)].astype(np.float32), (32, 32)) - mean) / std
        err = min(np.abs(got - want).mean(), np.abs(got - want[:, ::-1]).mean())
        assert err < 1e-3, (int(i), err)
