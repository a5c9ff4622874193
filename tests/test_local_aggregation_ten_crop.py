"""LA transfer validation against numpy: the softmax averaged over the 10 crops, then top-1 / top-5 per layer."""
import collections
import json
import types

import numpy as np
import pytest

from common.tf1 import tf
from local_aggregation.transfer import TransferValidation

B, K = 48, 7


class _StubModel(object):
    """Fixed heads: layer ``1`` reads the 7 input values as logits, layer ``2`` three times them reversed."""
    image_shape, num_classes = [1, 1, K], K
    layer_keys = collections.OrderedDict([("a", "1"), ("b", "2")])

    def head_logits(self, image):
        x = tf.reshape(image, [-1, K])
        return collections.OrderedDict([("a", x), ("b", 3.0 * x[:, ::-1])])


def _np_logits(x):
    return {"1": x, "2": 3.0 * x[..., ::-1]}


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _top(scores, labels, k):
    return float(np.mean([labels[i] in np.argsort(-scores[i])[:k] for i in range(len(labels))]))


def _validate(images, labels, ten_crop, out_dir):
    with tf.Graph().as_default():
        data = lambda: tf.data.Dataset.from_tensor_slices((images, labels, np.arange(B))).batch(10)  # noqa: E731
        cb = TransferValidation(_StubModel(), data, ten_crop, period=1, out_dir=out_dir)
        cb._setup_graph()
        scalars = {}
        with tf.Session() as sess:
            cb.trainer = types.SimpleNamespace(sess=sess, global_step=3, monitors=types.SimpleNamespace(
                put_scalar=lambda name, value: scalars.__setitem__(name, value)))
            last = cb.evaluate()
    return last, scalars


def test_ten_crop_averages_softmax_over_crops(tmp_path):
    rng = np.random.RandomState(0)
    images = (3 * rng.randn(B, 10, 1, 1, K)).astype(np.float32)
    labels = rng.randint(0, K, B).astype(np.int64)
    last, scalars = _validate(images, labels, True, str(tmp_path))
    logits = _np_logits(images.reshape(B, 10, K))
    other_rules = []
    for key, z in logits.items():
        probs = _softmax(z).mean(1)
        assert last[key]["top1"] == pytest.approx(_top(probs, labels, 1))
        assert last[key]["top5"] == pytest.approx(_top(probs, labels, 5))
        assert scalars["top1_" + key] == last[key]["top1"]
        other_rules.append((_top(z.mean(1), labels, 1), _top(z[:, 0], labels, 1)))
    # the data tell softmax averaging apart from averaging the logits and from the first crop alone
    assert all(mean_logits != last[key]["top1"] and first != last[key]["top1"]
               for key, (mean_logits, first) in zip(logits, other_rules))
    assert json.load(open(str(tmp_path / "results.json")))["results"] == json.loads(json.dumps(last))


def test_single_crop_is_plain_softmax(tmp_path):
    rng = np.random.RandomState(1)
    images = rng.randn(B, 1, 1, K).astype(np.float32)
    labels = rng.randint(0, K, B).astype(np.int64)
    last, _ = _validate(images, labels, False, str(tmp_path))
    for key, z in _np_logits(images.reshape(B, K)).items():
        assert last[key]["top1"] == pytest.approx(_top(z, labels, 1))
        assert last[key]["top5"] == pytest.approx(_top(z, labels, 5))
