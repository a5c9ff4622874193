"""common.eval pooling ops and linear heads against numpy, the papers' feature sizes, and the linear-eval driver."""
import json
import math
import os

import numpy as np
import pytest

from common.eval.linear import evaluate_linear_probe, run_linear_eval
from common.schedules import EpochSchedule, piecewise_lr
from common.eval.pooling import adaptive_pool_to_features, avg_pool_if_large, avg_pool_to_size, flatten, pool_window
from common.eval.probe import LayerProbeModel, linear_heads
from common.tf1 import tf


def _np_pool(x, k, mode, padding):
    """NHWC pooling with window = stride = k; SAME averages over the valid cells only."""
    n, h, w, c = x.shape
    if padding == "SAME":
        oh, ow = -(-h // k), -(-w // k)
        top, left = max((oh - 1) * k + k - h, 0) // 2, max((ow - 1) * k + k - w, 0) // 2
    else:
        oh, ow, top, left = (h - k) // k + 1, (w - k) // k + 1, 0, 0
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = max(i * k - top, 0), max(j * k - left, 0)
            cell = x[:, r0:i * k - top + k, c0:j * k - left + k, :]
            out[:, i, j] = cell.mean(axis=(1, 2)) if mode == "avg" else cell.max(axis=(1, 2))
    return out


def _run(fn, x):
    with tf.Graph().as_default(), tf.Session() as sess:
        return sess.run(fn(tf.constant(x)))


def _dims(fn, shape, data_format="NHWC"):
    with tf.Graph().as_default():
        return int(np.prod(fn(tf.placeholder(tf.float32, [None] + list(shape)), data_format=data_format)
                           .shape.as_list()[1:]))


@pytest.mark.parametrize("h,k,mode,padding", [(16, 3, "avg", "SAME"), (64, 7, "avg", "SAME"),
                                              (13, 4, "max", "VALID"), (12, 5, "avg", "VALID")])
def test_pool_window_matches_numpy(h, k, mode, padding):
    x = np.random.RandomState(h).randn(2, h, h, 3).astype(np.float32)
    np.testing.assert_allclose(_run(lambda t: pool_window(t, k, mode, padding), x), _np_pool(x, k, mode, padding),
                               rtol=1e-5, atol=1e-6)
    nchw = _run(lambda t: pool_window(t, k, mode, padding, "NCHW"), x.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(nchw, _np_pool(x, k, mode, padding).transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-6)


def test_avg_pool_to_size_counting_heads():
    """Counting at 256 px: conv1..5 pooled with SAME windows 7, 6, 4, 4, 3 -> 9600, 9216, 6144, 6144, 9216."""
    shapes = [(64, 96, 10), (32, 256, 6), (16, 384, 4), (16, 384, 4), (16, 256, 6)]
    dims = [_dims(lambda t, data_format: avg_pool_to_size(t, size, data_format), (h, h, c))
            for h, c, size in shapes]
    assert dims == [9600, 9216, 6144, 6144, 9216]
    x = np.random.RandomState(0).rand(2, 16, 16, 4).astype(np.float32)
    np.testing.assert_allclose(_run(lambda t: avg_pool_to_size(t, 6), x), _np_pool(x, 3, "avg", "SAME"), rtol=1e-5)
    with pytest.raises(ValueError, match="cannot be pooled to 6x6"):
        _run(lambda t: avg_pool_to_size(t, 6), np.zeros((1, 10, 10, 1), np.float32))


def test_adaptive_pool_matches_numpy_and_revisiting_sizes():
    x = np.random.RandomState(1).randn(2, 12, 12, 4).astype(np.float32)
    k = math.ceil(math.sqrt(12 * 12 * 4 / 50.0))  # = 4 -> 3x3x4 = 36 <= 50
    for mode in ("max", "avg"):
        got = _run(lambda t: adaptive_pool_to_features(t, 50, mode), x)
        np.testing.assert_allclose(got, _np_pool(x, k, mode, "VALID"), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(_run(lambda t: adaptive_pool_to_features(t, 600), x), x)
    cases = {(56, 56, 1024): 4096, (28, 28, 2048): 8192, (14, 14, 4096): 4096, (7, 7, 8192): 8192,
             (56, 56, 192): 6912, (56, 56, 768): 6912, (32, 32, 128): 8192, (32, 32, 512): 8192,
             (16, 16, 1024): 4096, (8, 8, 2048): 8192, (8, 8, 4096): 4096}
    got = {s: _dims(lambda t, data_format: adaptive_pool_to_features(t, data_format=data_format), s) for s in cases}
    assert got == cases
    assert _dims(lambda t, data_format: adaptive_pool_to_features(t), (8192,), None) == 8192


def test_avg_pool_if_large_local_aggregation_sizes():
    """LA transfer sizes (channels-first ResNet endpoints)."""
    cases = {(64, 56, 56): 50176, (128, 28, 28): 100352, (256, 14, 14): 50176, (512, 7, 7): 25088,
             (256, 56, 56): 50176, (512, 28, 28): 100352, (1024, 14, 14): 50176, (2048, 7, 7): 100352}
    got = {s: _dims(avg_pool_if_large, s, "NCHW") for s in cases}
    assert got == cases
    x = np.random.RandomState(2).rand(1, 8, 8, 3).astype(np.float32)
    np.testing.assert_allclose(_run(lambda t: avg_pool_if_large(t, 100), x), _np_pool(x, 2, "avg", "SAME"), rtol=1e-5)
    np.testing.assert_allclose(_run(lambda t: avg_pool_if_large(t, 40), x), _np_pool(x, 4, "avg", "SAME"), rtol=1e-5)
    np.testing.assert_array_equal(_run(lambda t: avg_pool_if_large(t, 192), x), x)


def _np_ce(logits, labels):
    z = logits - logits.max(1, keepdims=True)
    return np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(labels)), labels])


def _np_wrong(logits, labels, k):
    return np.array([lab not in np.argsort(-row)[:k] for row, lab in zip(logits, labels)], np.float32)


@pytest.mark.parametrize("reduction,wd", [("sum", 0.0), ("mean", 1e-2)])
def test_linear_heads_match_numpy(reduction, wd):
    rng = np.random.RandomState(3)
    feats = {"conv": rng.randn(16, 3, 3, 2).astype(np.float32), "fc": rng.randn(16, 5).astype(np.float32)}
    labels = rng.randint(0, 8, 16)
    with tf.Graph().as_default(), tf.Session() as sess:
        tensors = {n: tf.constant(v) for n, v in feats.items()}
        heads = linear_heads(tensors, 8, labels=tf.constant(labels), weight_decay=wd, reduction=reduction)
        assert [v.op.name for v in tf.trainable_variables()] == ["linear/conv/W", "linear/conv/b",
                                                                  "linear/fc/W", "linear/fc/b"]
        assert tf.gradients(heads.loss, tensors["conv"]) == [None]
        assert heads.wrong_top1["fc"].op.name == "wrong-top1-fc"
        sess.run(tf.global_variables_initializer())
        sess.run([v.assign(rng.randn(*v.shape.as_list())) for v in tf.trainable_variables()])
        params = sess.run({v.op.name: v for v in tf.trainable_variables()})
        out = sess.run(heads._asdict())
    ces, l2 = [], 0.0
    for name, x in feats.items():
        w, b = params["linear/%s/W" % name], params["linear/%s/b" % name]
        logits = x.reshape(16, -1) @ w + b
        np.testing.assert_allclose(out["logits"][name], logits, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(out["wrong_top1"][name], _np_wrong(logits, labels, 1))
        np.testing.assert_array_equal(out["wrong_top5"][name], _np_wrong(logits, labels, 5))
        ces.append(_np_ce(logits, labels))
        l2 += (w ** 2).sum() / 2 + (b ** 2).sum() / 2
    cost = sum(ces) if reduction == "sum" else np.mean(ces)
    assert out["cost"] == pytest.approx(cost, rel=1e-5)
    assert out["loss"] == pytest.approx(cost + wd * l2, rel=1e-5)


def test_feature_bn_standardises_with_batch_then_moving_statistics():
    """feature_bn: training tower -> (x - batch mean) / sqrt(batch var + 1e-5) per flattened feature and one
    moving-average update (momentum 0.9, population variance) per run; an inference tower uses the moving
    statistics; no trainable BN variables."""
    from tensorpack.tfutils.tower import TowerContext

    rng = np.random.RandomState(5)
    x = (rng.randn(32, 2, 2, 3) * rng.uniform(0.5, 4, 12).reshape(2, 2, 3) + 7).astype(np.float32)
    flat = x.reshape(32, -1).astype(np.float64)
    with tf.Graph().as_default(), tf.Session() as sess:
        feat = tf.placeholder(tf.float32, [None, 2, 2, 3])
        with TowerContext("", is_training=True):
            train = linear_heads({"c": feat}, 4, feature_bn=True).logits["c"]
        with tf.variable_scope(tf.get_variable_scope(), reuse=True), TowerContext("infer", is_training=False):
            infer = linear_heads({"c": feat}, 4, feature_bn=True).logits["c"]
        assert [v.op.name for v in tf.trainable_variables()] == ["linear/c/W", "linear/c/b"]
        sess.run(tf.global_variables_initializer())
        w, b = sess.run(["linear/c/W:0", "linear/c/b:0"])
        expect = (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5) @ w + b
        np.testing.assert_allclose(sess.run(train, {feat: x}), expect, rtol=1e-4, atol=1e-4)
        moving_mean, moving_var = 0.1 * flat.mean(0), 0.9 + 0.1 * flat.var(0)
        expect = (flat - moving_mean) / np.sqrt(moving_var + 1e-5) @ w + b
        np.testing.assert_allclose(sess.run(infer, {feat: x}), expect, rtol=1e-4, atol=1e-4)


def test_zero_features_give_log_num_classes():
    """Counting phase-2 fact: zero input, zero bias -> each CE = ln 1000 = 6.907755."""
    with tf.Graph().as_default(), tf.Session() as sess:
        heads = linear_heads({"a": tf.zeros([4, 10]), "b": tf.zeros([4, 3])}, 1000, labels=tf.zeros([4], tf.int64),
                             reduction="mean")
        sess.run(tf.global_variables_initializer())
        assert sess.run(heads.loss) == pytest.approx(6.907755, abs=1e-5)


def _blobs(rng, n, centres):
    labels = rng.randint(0, len(centres), n)
    x = centres[labels] + 0.5 * rng.randn(n, 4, 4, 2)
    return x.astype(np.float32), labels.astype(np.int64)


@pytest.fixture(scope="module")
def blobs():
    """A 5-class Gaussian-blob problem on 4x4x2 'images', its data functions and its Bayes-like accuracy."""
    rng = np.random.RandomState(4)
    centres = rng.randn(5, 4, 4, 2) * 1.5
    (xt, yt), (xv, yv) = _blobs(rng, 400, centres), _blobs(rng, 100, centres)

    def train():
        return tf.data.Dataset.from_tensor_slices((xt, yt, np.arange(400))).shuffle(400, seed=0).repeat().batch(50)

    def val():
        return tf.data.Dataset.from_tensor_slices((xv, yv)).batch(32)

    nearest_centre = np.mean(np.argmin(((xv[:, None] - centres[None]) ** 2).sum((2, 3, 4)), 1) == yv)
    assert nearest_centre > 0.9
    return train, val, nearest_centre


def _backbone(image):
    """A fixed 1x1 convolution (its variable must stay frozen) next to the raw input."""
    w = tf.get_variable("backbone/w", initializer=np.eye(2, dtype=np.float32).reshape(1, 1, 2, 2) * 3.0)
    return {"image": image, "mixed": tf.nn.conv2d(image, w, [1, 1, 1, 1], "SAME")}


def _probe(lr=0.05):
    return LayerProbeModel(_backbone, {"image": flatten, "mixed": lambda t: pool_window(t, 2)}, 5,
                           image_shape=(4, 4, 2), lr=lr)


def _check_results(results, nearest_centre):
    assert list(results) == ["image", "mixed"]
    assert results["image"]["top1"] >= nearest_centre - 0.05
    assert results["mixed"]["top5"] >= results["mixed"]["top1"] > 0.5


def test_run_linear_eval_learns_separable_problem_with_frozen_backbone(tmp_path, blobs):
    train, val, nearest_centre = blobs
    fixed = np.full((1, 1, 2, 2), 0.5, np.float32)

    def init_fn(sess):
        [w] = [v for v in tf.global_variables() if v.op.name == "backbone/w"]
        assert w not in tf.trainable_variables()
        w.load(fixed, sess)

    results = run_linear_eval(_probe(), train, val, 120, lr_schedule=piecewise_lr(0.05, [100]), init_fn=init_fn,
                              logdir=str(tmp_path / "ckpt"), out_dir=str(tmp_path / "report"), title="toy",
                              log_every=40)
    _check_results(results, nearest_centre)
    reader = tf.train.load_checkpoint(str(tmp_path / "ckpt"))
    np.testing.assert_array_equal(reader.get_tensor("backbone/w"), fixed)
    assert reader.get_tensor("global_step") == 120
    assert reader.get_tensor("learning_rate") == pytest.approx(0.005)
    saved = json.load(open(tmp_path / "report" / "results.json"))
    assert saved["results"]["image"]["top1"] == results["image"]["top1"]


@pytest.mark.parametrize("towers", [1, 2])
def test_probe_model_trains_through_launch_train(tmp_path, blobs, towers):
    from common.train import Towers, launch_train
    train, val, nearest_centre = blobs
    with tf.Graph().as_default():
        launch_train(_probe(), train, str(tmp_path), 40, 3, Towers(range(towers), on_cpu=True),
                     lr_schedule=EpochSchedule(0.05, [(2, 0.005)]))  # set after epoch 2
    ckpt = tf.train.latest_checkpoint(str(tmp_path))
    reader = tf.train.load_checkpoint(ckpt)
    np.testing.assert_array_equal(reader.get_tensor("backbone/w"), np.eye(2).reshape(1, 1, 2, 2) * 3.0)
    assert reader.get_tensor("learning_rate") == pytest.approx(0.005)
    _check_results(evaluate_linear_probe(_probe(), val, ckpt), nearest_centre)


def test_missing_layer_names_the_endpoints():
    model = LayerProbeModel(lambda im: {"conv1": im}, {"conv9": None}, 3, image_shape=(2, 2, 1))
    with tf.Graph().as_default(), pytest.raises(ValueError, match=r"'conv9' is not an endpoint \(have: conv1\)"):
        model.build_graph(tf.zeros([1, 2, 2, 1]), tf.zeros([1], tf.int64))


def _pixels(image):
    """A parameter-free 'backbone': the image average-pooled to 8 x 8."""
    return {"pixels": avg_pool_to_size(image, 8)}


@pytest.mark.slow
def test_toy_records_knn_and_linear_probe(toy_record_dir, tmp_path):
    """The chain on the toy TFRecords with 8x8 pixel features: embed train (bank, in index order) and val,
    kNN, linear probe. Alignment checks: each train image is its own nearest neighbour (1-NN on the train
    split = 100 %), and a linear probe fits the 160 train images."""
    from common.data.augment import AugmentConfig
    from common.data.input import make_dataset
    from common.eval.features import extract_features
    from common.eval.knn import knn_accuracy
    val_aug = AugmentConfig(size=64, crop="resize")
    embedded = {}
    with tf.Graph().as_default(), tf.Session() as sess:
        for split, n in (("train", 160), ("validation", 40)):
            it = tf.data.make_initializable_iterator(make_dataset(toy_record_dir, split, 16, val_aug, shuffle=False,
                                                                  repeat=False, drop_remainder=False))
            image, label, index = it.get_next()
            feats = tf.nn.l2_normalize(flatten(_pixels(image)["pixels"]), axis=1)
            embedded[split] = extract_features(sess, feats, label, index, init_op=it.initializer, expect_size=n)
    (bank, bank_labels, _), (queries, labels, _) = embedded["train"], embedded["validation"]
    assert bank.shape == (160, 192) and sorted(np.bincount(bank_labels)) == [16] * 10
    assert knn_accuracy(bank, bank_labels, bank, bank_labels, k=1)["top1"] == 1.0
    knn = knn_accuracy(bank, bank_labels, queries, labels, num_classes=10, k=20, t=0.07)
    assert 0.0 <= knn["top1"] <= knn["top5"] <= 1.0
    results = run_linear_eval(
        LayerProbeModel(_pixels, {"pixels": None}, 10, image_shape=(64, 64, 3), lr=0.1),
        lambda: make_dataset(toy_record_dir, "train", 32, val_aug, seed=0),
        lambda: make_dataset(toy_record_dir, "train", 32, val_aug, shuffle=False, repeat=False, drop_remainder=False),
        200, out_dir=str(tmp_path), title="toy", log_every=0)
    print("toy 8x8 pixels: val kNN %s, linear probe on train %s" % (knn, dict(results)))
    assert results["pixels"]["top1"] > 0.8
    assert os.path.exists(str(tmp_path / "results.png"))
