"""The release's own pieces in classification/ against independent numpy written from its code: the ResNetV2-50
parameter count, the warm-up + cosine schedule, the seam-carving energy (a literal 3-D convolution), seams and
carving (the release's per-pixel loops), the augmentation's deterministic steps (OpenCV on BGR floats) and the
config recipes."""
import json

import cv2
import numpy as np
import pytest

from classification import seam_carving
from classification.recipe import resolve_recipe
from classification.schedule import seed_learning_rate
from common.config import ConfigError, load_config

RNG = np.random.RandomState(0)
CONFIGS = "exp_configs/classification.json"


def _units():
    """(input channels, width, stride) of the 16 bottleneck units of ResNetV2-50."""
    units, c_in = [], 64
    for stage, (count, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
        for k in range(count):
            units.append((c_in, width, 2 if stage and not k else 1))
            c_in = 4 * width
    return units


def test_resnet50_v2_seed_parameter_count_and_layers():
    from common.models.summary import summarize
    from common.tf1 import tf
    want = 7 * 7 * 3 * 64 + 2 * 2048 + 2048 * 1000  # stem conv (no BN), final BN, fc without bias
    for c_in, w, stride in _units():
        want += 2 * c_in + c_in * w + 2 * w + 9 * w * w + 2 * w + w * 4 * w  # BN-ReLU first, 1x1, 3x3, 1x1
        want += c_in * 4 * w if (stride == 2 or c_in != 4 * w) else 0  # projection shortcut
    assert want == 25548352
    endpoints, count = summarize("resnet50_v2_seed", 1000)
    assert count == want and dict(endpoints)["conv5"] == [1, 7, 7, 2048]
    from common.models import get_model
    with tf.Graph().as_default():
        get_model("resnet50_v2_seed")(tf.zeros([1, 64, 64, 3]), False, num_classes=10)
        names = {v.op.name for v in tf.global_variables()}
        ops = {op.type for op in tf.get_default_graph().get_operations() if "poolshortcut" in op.name}
    assert "conv0/W" in names and not any(n.startswith("conv0/bn") for n in names)
    assert "linear/W" in names and "linear/b" not in names
    assert "group1/block0/convshortcut/W" in names and "group1/block1/convshortcut/W" not in names
    assert "AvgPool" in ops and "bnlast/bn/gamma" in names


def test_resnet50_v2_seed_nchw_matches_nhwc():
    import os
    import subprocess
    import sys
    worker = os.path.join(os.path.dirname(__file__), "layout_worker.py")
    proc = subprocess.run([sys.executable, worker, "resnet50_v2_seed", "0.25", "32"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    gaps = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(gaps) >= {"conv1", "conv5", "pre_logits", "logits"}
    assert all(gap <= 1e-4 * max(1.0, scale) for gap, scale in gaps.values()), gaps


def _keras_schedule(step, spe, epochs=50, peak=0.05, start=1e-4, alpha=1e-4):
    """Keras PolynomialDecay(start, spe, peak, power=1) for the warm-up epoch, CosineDecay(peak, epochs*spe, alpha)
    with its own step counter from 0 afterwards."""
    if step < spe:
        return (start - peak) * (1 - min(step, spe) / spe) + peak
    s = min(step - spe, epochs * spe)
    return peak * ((1 - alpha) * 0.5 * (1 + np.cos(np.pi * s / (epochs * spe))) + alpha)


@pytest.mark.parametrize("step", [0, 1, 195, 390, 391, 392, 391 + 25 * 391, 391 + 37 * 391 + 5, 51 * 391,
                                  60 * 391])
def test_seed_learning_rate_against_keras_formula(step):
    assert seed_learning_rate(step, 391) == pytest.approx(_keras_schedule(step, 391), rel=1e-12)


def test_seed_learning_rate_worked_values():
    assert seed_learning_rate(0, 10010) == pytest.approx(1e-4)
    assert seed_learning_rate(10010, 10010) == pytest.approx(0.05)
    assert seed_learning_rate(10010 + 25 * 10010, 10010) == pytest.approx(0.05 * (0.5 * (1 - 1e-4) + 1e-4))
    assert seed_learning_rate(51 * 10010, 10010) == pytest.approx(5e-6)
    assert seed_learning_rate(5, 10, epochs=2, peak=1.0, warmup_start=0.0, alpha=0.0) == pytest.approx(0.5)
    assert seed_learning_rate(20, 10, epochs=2, peak=1.0, warmup_start=0.0, alpha=0.0) == pytest.approx(0.5)


def _convolve3d_reflect(image, kernel):
    """scipy.ndimage.convolve(image, kernel) with mode='reflect' (d c b a | a b c d | d c b a), by definition."""
    padded = np.pad(image, 1, mode="symmetric")
    out = np.zeros_like(image, np.float64)
    h, w, c = image.shape
    for a in range(3):
        for b in range(3):
            for k in range(3):  # convolution: the kernel is flipped
                out += kernel[2 - a, 2 - b, 2 - k] * padded[a:a + h, b:b + w, k:k + c]
    return out


def _seed_energy(image):
    du = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])
    dv = du.T
    img = image.astype(np.float32).astype(np.float64)
    conv = [np.abs(_convolve3d_reflect(img, np.stack([f] * 3, axis=2)).astype(np.float32)) for f in (du, dv)]
    return (conv[0] + conv[1]).sum(axis=2)


def test_energy_is_the_3d_convolution_of_stacked_sobel_kernels():
    image = RNG.rand(7, 9, 3).astype(np.float32) * 255
    np.testing.assert_allclose(seam_carving.energy(image), _seed_energy(image), rtol=1e-5, atol=1e-3)
    ints = RNG.randint(0, 256, (6, 5, 3)).astype(np.uint8)
    np.testing.assert_array_equal(seam_carving.energy(ints), _seed_energy(ints))


def _seed_seam(energy):
    """The release's minimum_seam + carve_column backtrack, pixel by pixel."""
    r, c = energy.shape
    m = energy.astype(np.float32).copy()
    back = np.zeros((r, c), np.int64)
    for i in range(1, r):
        for j in range(c):
            lo = max(j - 1, 0)
            idx = int(np.argmin(m[i - 1, lo:j + 2]))
            back[i, j] = idx + lo
            m[i, j] += m[i - 1, idx + lo]
    seam = np.empty(r, np.int64)
    j = int(np.argmin(m[-1]))
    for i in reversed(range(r)):
        seam[i] = j
        j = back[i, j]
    return seam


def test_seams_match_the_release_loops_including_ties():
    for _ in range(20):
        e = RNG.randint(0, 3, (6, 7)).astype(np.float32)  # many ties
        np.testing.assert_array_equal(seam_carving.find_vertical_seam(e), _seed_seam(e))


def _seed_carve(image, size):
    h, w = image.shape[:2]
    ratio = size / min(h, w)
    image = cv2.resize(image, (size, int(h * ratio)) if w <= h else (int(w * ratio), size))

    def crop_c(img, count):
        for _ in range(count):
            seam = _seed_seam(_seed_energy(img))
            mask = np.ones(img.shape[:2], bool)
            mask[np.arange(img.shape[0]), seam] = False
            img = img[np.stack([mask] * 3, axis=2)].reshape(img.shape[0], img.shape[1] - 1, 3)
        return img
    if image.shape[0] > image.shape[1]:
        return np.rot90(crop_c(np.rot90(image, 1, (0, 1)), image.shape[0] - size), 3, (0, 1))
    return crop_c(image, image.shape[1] - size)


@pytest.mark.parametrize("shape,size", [((12, 19, 3), 10), ((23, 14, 3), 9), ((10, 10, 3), 10)])
def test_carve_matches_the_release_on_small_images(shape, size):
    image = cv2.GaussianBlur(RNG.randint(0, 256, shape).astype(np.uint8), (3, 3), 1)
    out = seam_carving.carve(image, size)
    assert out.shape == (size, size, 3)
    np.testing.assert_array_equal(out, _seed_carve(image, size))


def test_seam_view_is_carved_from_the_mirrored_image():
    image = RNG.randint(0, 256, (12, 17, 3)).astype(np.uint8)
    np.testing.assert_array_equal(seam_carving.mirrored_seam_view(image, 12), _seed_carve(image[:, ::-1].copy(), 12))


SEED = {"aspect_jitter": [0.8, 1.25], "short_side": [40, 47], "hue_jitter": 18.0, "saturation_jitter": 0.4,
        "value_jitter": 0.4, "lighting_std": 0.1, "image_size": 32, "mean_bgr": [103.939, 116.779, 123.68],
        "std_bgr": [58.393, 57.12, 57.375], "eigval_bgr": [55.46, 4.794, 1.148],
        "eigvec_bgr": [[-0.5836, -0.6948, 0.4203], [-0.5808, -0.0045, -0.8140], [-0.5675, 0.7192, 0.4009]]}


def _seed_numpy(bgr, p, cfg):
    """The release's utils/data.py steps on a BGR float image with the drawn numbers ``p``."""
    h, w = bgr.shape[:2]
    size = (int(w * p["aspect"]), h) if h < w else (w, int(h * p["aspect"]))
    img = cv2.resize(bgr, size)
    h, w = img.shape[:2]
    ratio = p["short"] / h if h < w else p["short"] / w
    img = cv2.resize(img, (int(w * ratio), int(h * ratio)))
    h, w = img.shape[:2]
    s = cfg["image_size"]
    y, x = int(p["crop_y"] * (h - s)), int(p["crop_x"] * (w - s))
    img = img[y:y + s, x:x + s]
    if p["flip"]:
        img = img[:, ::-1]
    hsv = cv2.cvtColor(np.ascontiguousarray(img, np.float32), cv2.COLOR_BGR2HSV)
    hsv[..., 0] = (hsv[..., 0] + p["hue"]) % 360
    hsv[..., 1] = np.minimum(hsv[..., 1] * p["saturation"], 1)
    hsv[..., 2] = np.minimum(hsv[..., 2] * p["value"], 255)
    img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    img = img + np.dot(np.array(cfg["eigvec_bgr"]) * p["alpha"], np.array(cfg["eigval_bgr"]))
    img = np.clip(img, 0, 255)
    return (img - np.array(cfg["mean_bgr"])) / np.array(cfg["std_bgr"])


@pytest.mark.parametrize("shape,flip", [((50, 70), True), ((64, 45), False), ((48, 48), True)])
def test_seed_augmentation_matches_opencv_on_bgr(shape, flip):
    from classification.augment import seed_augment
    from classification.recipe import SeedAugment
    from common.tf1 import tf
    rgb = cv2.GaussianBlur(RNG.randint(0, 256, shape + (3,)).astype(np.uint8), (5, 5), 1.5)
    p = {"aspect": 0.9 if shape[0] != 48 else 1.2, "short": 43, "crop_y": 0.7, "crop_x": 0.3, "flip": flip,
         "hue": -11.0, "saturation": 1.3, "value": 1.25, "alpha": np.array([0.1, -0.05, 0.2], np.float32)}
    with tf.Graph().as_default(), tf.Session() as sess:
        feed = dict({k: tf.constant(v) for k, v in p.items()}, aspect=tf.constant(p["aspect"], tf.float64))
        got = sess.run(seed_augment(tf.constant(rgb), feed, SeedAugment.from_config(SEED)))
    want = _seed_numpy(rgb[..., ::-1].astype(np.float32), p, SEED)[..., ::-1]
    assert got.shape == (32, 32, 3)
    np.testing.assert_allclose(got, want, atol=1e-4)  # float32 rounding only


def test_seed_random_numbers_cover_the_stated_ranges():
    from classification.augment import seed_draws
    from classification.recipe import SeedAugment
    from common.tf1 import tf
    with tf.Graph().as_default(), tf.Session() as sess:
        drawn = seed_draws(SeedAugment.from_config(SEED), seed=3)
        draws = [sess.run(drawn) for _ in range(300)]
    shorts = {int(d["short"]) for d in draws}
    assert shorts == set(range(40, 48))  # randint(40, 48): 47 included, 48 not
    aspect = np.array([d["aspect"] for d in draws])
    assert aspect.min() >= 0.8 and aspect.max() < 1.25 and aspect.min() < 0.83 and aspect.max() > 1.2
    assert 0.4 < np.mean([d["flip"] for d in draws]) < 0.6
    alpha = np.concatenate([d["alpha"] for d in draws])
    assert 0.09 < alpha.std() < 0.11


def _cfg(key, overrides=None):
    return resolve_recipe(load_config("%s:%s" % (CONFIGS, key), overrides), key)


def test_release_configs_are_the_release_recipe():
    for key, stats in (("ilsvrc_resnet50_v2", [103.939, 116.779, 123.68]),
                       ("mini_resnet50_v2", [102.38590308, 114.03596477, 120.20542635])):
        cfg = _cfg(key)
        assert cfg["model"] == "resnet50_v2_seed" and cfg["batch"] == 128 and cfg["label_smoothing"] == 0.1
        assert cfg["weight_decay"] == 1e-4 and cfg["epochs"] == 50 and cfg["warmup_epochs"] == 1
        assert (cfg["lr_schedule"], cfg["peak_lr"], cfg["warmup_lr"], cfg["cosine_alpha"]) == ("cosine", 0.05, 1e-4,
                                                                                               1e-4)
        assert cfg["momentum"] == 0.9 and cfg["nesterov"] and cfg["augment"] == "seed"
        assert cfg["mean_bgr"] == stats and cfg["short_side"] == [256, 287] and cfg["resize_shorter"] == 256
        np.testing.assert_allclose(cfg["mean"], np.array(stats[::-1]) / 255)
    assert _cfg("mini_resnet50_v2")["num_classes"] == 100
    assert _cfg("mini_resnet50_v2")["eigval_bgr"] == [69.1475759, 6.97101293, 1.44854629]
    for key in ("ilsvrc_resnet50", "mini_se_resnet50", "ilsvrc_alexnet"):
        cfg = _cfg(key)
        assert cfg["lr_schedule"] == "cosine" and cfg["batch"] == 128 and cfg["model"] == key.split("_", 1)[1]
    tp = _cfg("tp_ilsvrc_resnet50_v2")
    assert (tp["model"], tp["lr_schedule"], tp["batch"], tp["epochs"], tp["augment"]) == ("resnet50_v2", "step", 256,
                                                                                          105, "fbresnet")
    with open(CONFIGS) as f:
        keys = json.load(f)
    for key in keys:
        _cfg(key)  # every key is one consistent recipe


def test_mixed_recipes_are_one_error_naming_the_keys():
    seed = load_config("%s:ilsvrc_resnet50_v2" % CONFIGS)
    with pytest.raises(ConfigError, match=r"lr_schedule='cosine'.* lr_decay, lr_decay_epochs;") as exc:
        resolve_recipe(dict(seed, lr_decay_epochs=[30, 60], lr_decay=0.1), "mixed")
    assert "\n" not in str(exc.value) and str(exc.value).startswith("config mixed mixes the two recipes: ")
    with pytest.raises(ConfigError, match=r"augment='seed'.* crop_scale;"):
        resolve_recipe(dict(seed, crop_scale=[0.08, 1.0]), "mixed")
    with pytest.raises(ConfigError, match=r"lr_schedule='step'.* cosine_alpha, peak_lr, warmup_lr;"):
        _cfg("toy", ["lr_schedule=step"])
    tp = load_config("%s:tp_toy" % CONFIGS)
    tp = {k: v for k, v in tp.items() if k not in ("base_lr", "lr_ref_batch", "lr_decay_epochs", "lr_decay")}
    with pytest.raises(ConfigError, match=r"lr_schedule='cosine' needs the key\(s\) warmup_lr, peak_lr, cosine_alpha"):
        resolve_recipe(dict(tp, lr_schedule="cosine"), "x")
