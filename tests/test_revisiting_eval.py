"""revisiting: LR schedule and configs of the release, linear-eval pooling/patch combination, exported module."""
import json
import math

import numpy as np
import pytest

from common.tf1 import tf
from revisiting.data import record_range
from revisiting.export import export_module, read_module_spec
from revisiting.flags import parse_flags
from revisiting.linear_eval import combine_patches, fractional_pool, pool_endpoint
from revisiting.net import get_net, trunk_options
from revisiting.schedule import lr_at, lr_schedule, steps_per_epoch, total_steps

CONFIG = "exp_configs/revisiting.json"
IMAGENET = {"trainval": 1281167, "test": 50000}
IMAGENET["train"] = record_range(IMAGENET["trainval"], "head")[1]
IMAGENET["val"] = IMAGENET["trainval"] - IMAGENET["train"]
RNG = np.random.RandomState(3)


def load_config(spec):
    """The run's config of a ``--config`` key (table defaults included), as train_and_eval.py resolves it."""
    return parse_flags("train_and_eval", ["--config", spec, "--workdir", "unused", "--dataset_dir", "unused"])[1]


def test_release_split_sizes():
    # the release's datasets.py: train = first 984 of 1,024 train shards, val = the last 40
    assert (IMAGENET["train"], IMAGENET["val"]) == (1231121, 50046)
    assert steps_per_epoch(IMAGENET["train"], 64) * 35 == 673260


def release_lr(step, base_lr, warmup, boundaries, factor=0.1):
    """The release's trainer.py formula, written independently."""
    if step < warmup:
        return step * base_lr / warmup
    return base_lr * factor ** sum(step > b for b in boundaries)


@pytest.mark.parametrize("key,warmup,boundaries,end,base", [
    ("rotation", 96180, (288540, 480900), 673260, 0.025),
    ("supervised", 25020, (150120, 300240, 400320), 450360, 0.1),
    ("relative_patch_location", 48090, (144270, 240450), 336630, 0.05),
    ("jigsaw", 48090, (144270, 240450), 336630, 0.05),
    ("eval_rotation_or_exemplar", 0, (75060, 125100), 175140, 0.2),
])
def test_release_schedules(key, warmup, boundaries, end, base):
    cfg = load_config("%s:%s" % (CONFIG, key))
    epoch_steps = steps_per_epoch(IMAGENET[cfg["train_split"]], cfg["batch_size"])
    points = lr_schedule(cfg, epoch_steps)
    assert total_steps(cfg, epoch_steps) == end
    steps = [0, 1, warmup // 2, max(warmup - 1, 0), warmup] + [b + d for b in boundaries for d in (-1, 0, 1, 2)]
    steps += list(RNG.randint(0, end, 50)) + [end]
    for step in steps:
        assert math.isclose(lr_at(points, step), release_lr(step, base, warmup, boundaries), rel_tol=1e-9,
                            abs_tol=1e-12), (key, step)


def test_release_configs_hold_the_shipped_settings():
    expect = {"supervised": ("resnet50", "v2", 4, 256, 10, "inception_preprocess"),
              "rotation": ("revnet50", "v2", 16, 64, 16, "inception_preprocess,rotate"),
              "relative_patch_location": ("resnet50", "v1", 8, 128, 8,
                                          "resize,to_gray,crop,crop_patches,standardization"),
              "jigsaw": ("resnet50", "v1", 8, 128, 8, "resize,to_gray,crop,crop_patches,standardization"),
              "exemplar": ("resnet50", "v1", 12, 64, 16, "to_gray,crop_inception_preprocess_patches,standardization")}
    for key, (arch, mode, factor, batch, eval_batch, pp) in expect.items():
        cfg = load_config("%s:%s" % (CONFIG, key))
        assert (cfg["architecture"], cfg["mode"], cfg["filters_factor"], cfg["batch_size"], cfg["eval_batch_size"],
                cfg["preprocessing"]) == (arch, mode, factor, batch, eval_batch, pp), key
        assert cfg["weight_decay"] == 1e-4 and cfg["lr"] == 0.1 and cfg["lr_scale_batch_size"] == 256
    patches = load_config("%s:jigsaw" % CONFIG)
    assert (patches["resize_size"], patches["crop_size"], patches["grayscale_probability"],
            patches["splits_per_side"], patches["patch_jitter"], patches["embed_dim"]) == ("292,292", "255", 0.66,
                                                                                        3, 21, 1000)
    ex = load_config("%s:exemplar" % CONFIG)
    assert (ex["num_of_inception_patches"], ex["margin"], ex["grayscale_probability"]) == (8, 0.5, 0.66)
    ev = load_config("%s:eval_jigsaw_or_relative_patch_location" % CONFIG)
    assert (ev["smaller_size"], ev["crop_size"], ev["patch_jitter"], ev["pool_mode"], ev["batch_size"]) == \
        (224, "192,192", 0, "max", 512)
    for key in ("rotation", "relative_patch_location", "jigsaw", "exemplar"):
        assert (load_config("%s:%s" % (CONFIG, key))["train_split"], load_config("%s:%s" % (CONFIG, key))[
            "val_split"]) == ("train", "val")
    with open(CONFIG) as f:
        keys = json.load(f)
    for task in ("supervised", "rotation", "relative_patch_location", "jigsaw", "exemplar"):
        assert "toy_" + task in keys


def test_pool_endpoint_release_sizes_and_values():
    # the release's linear evaluation: RevNet50 x16 block2 28x28x2048 -> window 14 -> 2x2x2048;
    # ResNet50 x12 after_root 56x56x192 -> 6x6
    for shape, out in (((1, 28, 28, 2048), (1, 2, 2, 2048)), ((1, 56, 56, 192), (1, 6, 6, 192)),
                       ((1, 7, 7, 8192), (1, 1, 1, 8192)), ((1, 8192), (1, 1, 1, 8192))):
        with tf.Graph().as_default():
            assert pool_endpoint(tf.zeros(shape), "max").shape.as_list() == list(out)
    x = RNG.randn(2, 12, 12, 100).astype(np.float32)  # 14400 > 9000: window ceil(sqrt(1.6)) = 2
    with tf.Session(graph=tf.Graph()) as sess:
        got = sess.run(pool_endpoint(tf.constant(x), "max"))
        frac = sess.run(fractional_pool(tf.constant(x), "adaptive_avg"))
    np.testing.assert_allclose(got, x.reshape(2, 6, 2, 6, 2, 100).max(axis=(2, 4)))
    assert frac.shape == (2, 9, 9, 100)  # t = round-to-closer sqrt(9000/100) = 9
    with pytest.raises(ValueError, match="--pool_mode 'min'"):
        pool_endpoint(tf.zeros([1, 2, 2, 3]), "min")


def test_combine_patches_against_numpy():
    feats = RNG.randn(2 * 3, 2, 2, 4).astype(np.float32)
    grouped = feats.reshape(2, 3, 2, 2, 4)
    with tf.Session(graph=tf.Graph()) as sess:
        avg, mx, cat = sess.run([combine_patches(tf.constant(feats), 3, m) for m in ("avg_pool", "max_pool", "concat")])
    np.testing.assert_allclose(avg, grouped.mean(1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mx, grouped.max(1))
    for c in range(4):
        for p in range(3):
            np.testing.assert_array_equal(cat[..., c * 3 + p], grouped[:, p, :, :, c])


def test_trunk_options_patch_tasks_and_widths():
    assert trunk_options("revnet50", 16, task="jigsaw")[:3] == (
        "revnet50", 4.0, {"last_relu": True, "root_conv_stride": 1, "strides": (2, 2, 1)})
    assert trunk_options("vgg19", None, task="jigsaw")[:3] == ("vgg19_revisiting", 1.0, {})
    release = {"bn_momentum": 0.99, "bn_epsilon": 1e-3, "root_pool_padding": "fixed", "conv_init": "glorot_uniform"}
    assert trunk_options("resnet50", 8, mode="v1")[2] == dict(release, last_relu=True, version=1)
    assert trunk_options("resnet18", 2, task="rotation")[:3] == (  # the toy demo's trunk
        "resnet18_official", 0.5, dict(release, last_relu=True, version=2))
    with tf.Graph().as_default():  # patch-task shapes of a 64x64 patch (ResNet50 v1, ff=1)
        ends = get_net("resnet50", 1, mode="v1", task="jigsaw")(tf.zeros([2, 64, 64, 3]), True, num_classes=8)
        assert [ends[k].shape.as_list()[1] for k in ("after_root", "block1", "block2", "block3", "block4")] == \
            [32, 32, 16, 8, 8]
        assert ends["pre_logits"].shape.as_list() == [2, 512] and ends["logits"].shape.as_list() == [2, 8]
    with pytest.raises(ValueError, match="--filters_factor 5 is not supported by --architecture revnet50"):
        trunk_options("revnet50", 5)
    with pytest.raises(ValueError, match="--architecture 'alexnet'"):
        trunk_options("alexnet", 4)


def test_exported_module_signatures_load_and_match_builder(tmp_path):
    cfg = {"architecture": "revnet50", "filters_factor": 1, "mode": "v2", "last_relu": True, "task": "rotation",
           "serving_input_shape": "None,32,32,3"}
    module = export_module(None, str(tmp_path / "module"), cfg)
    spec = read_module_spec(module)
    assert spec["num_classes"] == 4 and spec["input_shape"] == [None, 32, 32, 3]
    images = RNG.rand(3, 32, 32, 3).astype(np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        meta = tf.saved_model.load(sess, [tf.saved_model.tag_constants.SERVING], module)  # compat.v1 loader
        assert set(meta.signature_def) == {"default", "representation"}
        rep = meta.signature_def["representation"]
        assert set(rep.outputs) == {"after_root", "block1", "block2", "block3", "block4", "pre_logits", "logits"}
        feed = {rep.inputs["image"].name: images}
        default = sess.run(meta.signature_def["default"].outputs["default"].name, feed)
        pre_logits = sess.run(rep.outputs["pre_logits"].name, feed)
    assert default.shape == (3, 4) and pre_logits.shape == (3, 512)  # 512 * filters_factor
    with tf.Graph().as_default(), tf.Session() as sess:  # rebuilt from module.json + variables: same outputs
        ends = get_net("revnet50", 1)(tf.constant(images), False, num_classes=4)
        tf.train.Saver().restore(sess, str(tmp_path / "module" / "variables" / "variables"))
        np.testing.assert_allclose(sess.run(ends["logits"]), default, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="not an exported module"):
        read_module_spec(str(tmp_path))
