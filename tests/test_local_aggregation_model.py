"""LR schedule, embedding network, 10-crop views and argument checks of the LA model pieces."""
import numpy as np
import pytest

from common.tf1 import tf
from local_aggregation.augmentation import ten_crop_views, train_augment
from local_aggregation.model import LocalAggregationModel, backbone, network_embedding, release_lr
from tensorpack.tfutils.common import get_global_step_var
from tensorpack.tfutils.tower import TowerContext


@pytest.mark.parametrize("step,lr", [(1600000, 0.03), (1600001, 0.003), (1873411, 0.003), (1873412, 0.0003)])
def test_release_lr_at_res18_la_boundaries(step, lr):
    with tf.Graph().as_default():
        value = release_lr(0.03, [1600000, 1873411]).create_variable()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            get_global_step_var().load(step, sess)
            assert sess.run(value) == pytest.approx(lr)


def test_embedding_rows_are_unit_norm():
    images = np.random.RandomState(0).randn(3, 32, 32, 3).astype(np.float32)
    with tf.Graph().as_default():
        ends = network_embedding(tf.constant(images), False, "resnet18", width=0.25)
        assert "ending_point_9" in ends and ends["embedding"].shape.as_list() == [3, 128]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            emb = sess.run(ends["embedding"])
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("height,width", [(16, 22), (30, 16)])
def test_ten_crop_views_cut_the_full_image_like_numpy(height, width):
    image = np.random.RandomState(height).randint(0, 256, (height, width, 3)).astype(np.uint8)
    with tf.Graph().as_default(), tf.Session() as sess:
        got = sess.run(ten_crop_views(tf.constant(image), 7))
    side = int(224 / (256.0 / min(height, width)))  # 14: each view is a 2x2 block mean (area resize)
    origins = [(int((height - side) / 2), int((width - side) / 2)), (0, 0), (0, width - side),
               (height - side, 0), (height - side, width - side)]
    views = [image[y:y + side, x:x + side].astype(np.float64).reshape(7, 2, 7, 2, 3).mean(axis=(1, 3))
             for y, x in origins]
    views += [v[:, ::-1] for v in views]
    np.testing.assert_allclose(got, np.stack(views), atol=1e-3)


def test_ten_crop_validation_batches_are_normalised_like_training(toy_record_dir):
    """The 10-crop validation views get the same ImageNet mean/std normalisation as every other input."""
    from common.data.augment import DCT_METHOD, IMAGENET_MEAN, IMAGENET_STD
    from common.data.records import list_shards
    from local_aggregation.augmentation import make_validation_dataset

    first = next(tf.io.tf_record_iterator(list_shards(toy_record_dir, "validation")[0]))
    encoded = tf.train.Example.FromString(first).features.feature["images"].bytes_list.value[0]
    with tf.Graph().as_default(), tf.Session() as sess:
        batch = tf.data.make_one_shot_iterator(make_validation_dataset(toy_record_dir, 4, 8, ten_crop=True)).get_next()
        raw = ten_crop_views(tf.image.decode_jpeg(encoded, channels=3, dct_method=DCT_METHOD), 8)
        (images, labels, _), raw = sess.run([batch, raw])
    assert images.shape == (4, 10, 8, 8, 3) and labels.shape == (4,)
    expect = (raw / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(images[0], expect, rtol=1e-5, atol=1e-5)


def test_argument_errors_name_the_value():
    with pytest.raises(ValueError, match="instance_k 300 is outside"):
        LocalAggregationModel("LA", "resnet18", 32, 200, instance_k=300)
    with pytest.raises(ValueError, match="task 'XX'"):
        LocalAggregationModel("XX", "resnet18", 32, 200)
    with pytest.raises(ValueError, match="model_type 'resnet34' is not supported"):
        backbone("resnet34")
    with pytest.raises(ValueError, match="bn_momentum 0.9: only the ResNets"):
        backbone("vggnet_fx", 0.9)
    with pytest.raises(ValueError, match="train_crop 'nope'"):
        train_augment("nope", 224)
    assert backbone("resnet50") == ("resnet50_official", {"version": 2})
    assert backbone("alexnet_bn_no_drop")[0] == "alexnet_la" and backbone("vggnet_fx")[0] == "vgg16_la"


def test_default_augmentation_is_the_release_one():
    cfg = train_augment("default", 224)
    assert (cfg.crop, cfg.scale, cfg.grayscale_prob, cfg.grayscale_first, cfg.flip) == \
        ("random_resized", (0.2, 1.0), 0.2, True, True)
    assert cfg.color_jitter == (0.4, 0.4, 0.4, 0.4) and cfg.interpolation == "area"
    assert train_augment("alexnet_crop_flip", 224).crop == "random"


def test_knn_top1_is_release_1nn_and_weighted_knn():
    from local_aggregation.knn_monitor import knn_top1
    rng = np.random.RandomState(2)
    bank = rng.randn(50, 8).astype(np.float32)
    bank /= np.linalg.norm(bank, axis=1, keepdims=True)
    bank_labels, queries = rng.randint(0, 3, 50), bank[:20] + 0.3 * rng.randn(20, 8).astype(np.float32)
    labels = rng.randint(0, 3, 20)
    sims = queries @ bank.T
    nn1 = np.mean(bank_labels[sims.argmax(1)] == labels)
    top = np.argsort(-sims, axis=1)[:, :5]
    votes = np.zeros((20, 3))
    for i in range(20):
        for j in top[i]:
            votes[i, bank_labels[j]] += np.exp(sims[i, j] / 0.07)
    got = knn_top1(bank, bank_labels, queries, labels, 3, knn_k=5)
    assert got["nn1_top1"] == pytest.approx(nn1)
    assert got["knn_top1"] == pytest.approx(np.mean(votes.argmax(1) == labels))


def test_plan_steps_counts_epochs_from_the_start_step(tmp_path):
    from local_aggregation.step_plan import UNLIMITED_EPOCHS, plan_steps
    assert plan_steps(str(tmp_path), None, 100090, 10009) == (0, 10)  # res18_IR: 10 epochs from scratch
    assert plan_steps(str(tmp_path), None, 15, 4) == (0, 4)  # 16 steps, StopAtStep ends at 15
    assert plan_steps(str(tmp_path), None, None, 4) == (0, UNLIMITED_EPOCHS)


@pytest.mark.parametrize("model_type,size,bn_decayed", [("resnet18", 32, False), ("alexnet_bn_no_drop", 96, True),
                                                         ("vggnet_fx", 64, False)])
def test_weight_decay_follows_the_release_rule(model_type, size, bn_decayed):
    """wd * sum(v^2)/2 over every trainable variable but the BN ones (whose release names hold
    ``batch_normalization``); the AlexNet's BN layers are named conv1..fc7 there, so they are decayed too."""
    with tf.Graph().as_default() as g:
        model = LocalAggregationModel("IR", model_type, size, 20, instance_k=4, weight_decay=1e-2,
                              width=0.25 if model_type == "resnet18" else 1)
        with TowerContext("", is_training=True):
            model.build_graph(tf.random_normal([2, size, size, 3]), tf.zeros([2], tf.int64),
                              tf.constant([0, 1], tf.int64))
        variables = tf.trainable_variables()
        got, values = _run([g.get_tensor_by_name("regularization_loss:0"), variables])
    names = [v.name for v in variables]
    bn = [n for n in names if n.endswith(("bn/gamma:0", "bn/beta:0"))]
    assert bn and any(n.endswith("/b:0") for n in names)  # both kinds are present in each backbone
    want = 1e-2 * sum((x.astype(np.float64) ** 2).sum() / 2 for n, x in zip(names, values)
                      if bn_decayed or n not in bn)
    assert got == pytest.approx(want, rel=1e-5)


def _run(fetches):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches)
