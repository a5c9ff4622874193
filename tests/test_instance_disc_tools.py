"""instance_disc helpers without a graph: CIFAR batch reading, neighbour ranking and the neighbour grid PNG."""
import os
import pickle

import numpy as np
import pytest

from common.config import load_config
from instance_disc.cifar_batches import TEST_BATCH, TRAIN_BATCHES, load_cifar10
from instance_disc.neighbor_grid import CORRECT_COLOR, WRONG_COLOR, draw_neighbor_grid, top_neighbors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_fake_cifar(folder, per_batch=4, seed=0):
    """Write the six CIFAR-10 pickle batches with random content; returns the arrays written, in order."""
    rng = np.random.RandomState(seed)
    os.makedirs(folder, exist_ok=True)
    written = []
    for name in TRAIN_BATCHES + (TEST_BATCH,):
        data = rng.randint(0, 256, size=(per_batch, 3072)).astype(np.uint8)
        labels = rng.randint(0, 10, size=per_batch).tolist()
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, f)
        written.append((data, labels))
    return written


def test_cifar_batches_load_in_order_as_hwc(tmp_path):
    written = write_fake_cifar(str(tmp_path / "cifar-10-batches-py"))
    train_x, train_y, test_x, test_y = load_cifar10(str(tmp_path))
    assert train_x.shape == (20, 32, 32, 3) and test_x.shape == (4, 32, 32, 3)
    first = written[0][0][1].reshape(3, 32, 32)
    np.testing.assert_array_equal(train_x[1], np.moveaxis(first, 0, -1))
    np.testing.assert_array_equal(train_y, sum((w[1] for w in written[:5]), []))
    np.testing.assert_array_equal(test_y, written[5][1])


def test_cifar_missing_dir_or_batches_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="CIFAR-10 directory not found: .*nope"):
        load_cifar10(str(tmp_path / "nope"))
    write_fake_cifar(str(tmp_path))
    os.remove(str(tmp_path / "data_batch_3"))
    with pytest.raises(ValueError, match="lacks the batch files data_batch_3") as err:
        load_cifar10(str(tmp_path))
    assert "\n" not in str(err.value)


def test_top_neighbors_match_a_full_sort():
    rng = np.random.RandomState(0)
    bank, queries = rng.randn(50, 8), rng.randn(6, 8)
    idx, sims = top_neighbors(bank, queries, k=10)
    full = queries @ bank.T
    np.testing.assert_array_equal(idx, np.argsort(-full, axis=1)[:, :10])
    np.testing.assert_allclose(sims, np.sort(full, axis=1)[:, ::-1][:, :10], rtol=1e-5)


def _count_color(image, color, tol=0.08):
    return int(np.sum(np.all(np.abs(image[..., :3] - np.array(color)) < tol, axis=-1)))


def test_neighbor_grid_frames_correct_and_wrong_neighbours_differently(tmp_path):
    import matplotlib.pyplot as plt
    rng = np.random.RandomState(1)
    grey = np.full((2, 16, 16, 3), 128, np.uint8)
    neighbours = np.full((2, 3, 16, 16, 3), 128, np.uint8)
    labels = np.array([[0, 0, 0], [1, 1, 1]])
    paths = {}
    for name, q_labels in (("all_right", [0, 1]), ("all_wrong", [2, 2])):
        paths[name] = str(tmp_path / (name + ".png"))
        draw_neighbor_grid(paths[name], grey, np.array(q_labels), neighbours, labels, ["a", "b", "c"],
                           sims=rng.rand(2, 3))
    right, wrong = plt.imread(paths["all_right"]), plt.imread(paths["all_wrong"])
    assert _count_color(right, CORRECT_COLOR) > 100 and _count_color(right, WRONG_COLOR) == 0
    assert _count_color(wrong, WRONG_COLOR) > 100 and _count_color(wrong, CORRECT_COLOR) == 0


def test_configs_hold_the_release_settings():
    path = os.path.join(ROOT, "exp_configs", "instance_disc.json")
    r18, r50 = load_config(path + ":imagenet_resnet18"), load_config(path + ":imagenet_resnet50")
    assert (r18["nce_k"], r18["nce_t"], r18["nce_m"], r18["lr"], r18["batch_size"]) == (4096, 0.07, 0.5, 0.03, 256)
    assert r50["arch"] == "resnet50" and r18["lr_decay_epochs"] == [120, 160]
    ce = load_config(path + ":imagenet_resnet50_softmax_ce")
    assert (ce["loss"], ce["nce_k"]) == ("softmax_ce", 65536)
    cifar = load_config(path + ":cifar10")
    assert (cifar["nce_t"], cifar["weight_decay"], cifar["batch_size"], cifar["stem"]) == (0.1, 5e-4, 128, "cifar")
    assert load_config(path + ":toy")["epochs"] > 0
