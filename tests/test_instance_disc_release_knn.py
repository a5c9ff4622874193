"""``main.py DATA -a resnet18 --resume lemniscate_resnet18.pth.tar -e`` on the toy records: the release's weighted
kNN against the file's stored bank, its rows moved from the ImageFolder order to the records' index order,
equals a numpy kNN computed here from PyTorch features; missing/extra images are one error line."""
import os
import shutil

import numpy as np
import pytest

from common.config import load_config
from common.data.records import ensure_records, list_shards, read_meta
from common.tf1 import tf

torch = pytest.importorskip("torch", reason="PyTorch is optional: `make setup-zoo` adds it (writes the .pth files)")
import lemniscate_release as lr  # noqa: E402  (needs torch)
from instance_disc import main as main_script  # noqa: E402
from instance_disc.flags import CONFIG_FILE, record_input  # noqa: E402
from instance_disc.inputs import record_data  # noqa: E402
from tests.test_instance_disc_cli import run_script  # noqa: E402
from zoo.convert import convert as zoo_convert  # noqa: E402

SIZES = {"image_size": 64, "resize_size": 73, "val_batch_size": 50}
FLAGS = sum((["--set", "%s=%d" % kv] for kv in SIZES.items()), ["-a", "resnet18"])


def _imagefolder_order(image_dir):
    """(file names, labels) as torchvision's ImageFolder lists <image_dir>/train: classes sorted, files sorted."""
    root = os.path.join(image_dir, "train")
    names, labels = [], []
    for label, cls in enumerate(sorted(os.listdir(root))):
        for f in sorted(os.listdir(os.path.join(root, cls))):
            names.append(cls + "/" + f)
            labels.append(label)
    return names, np.array(labels)


def _record_names(record_dir):
    """{index: file name} of the train records, read with the protobuf parser."""
    out = {}
    for shard in list_shards(record_dir, "train"):
        for raw in tf.io.tf_record_iterator(shard):
            feature = tf.train.Example.FromString(raw).features.feature
            out[feature["index"].int64_list.value[0]] = feature["filename"].bytes_list.value[0].decode()
    return [out[i] for i in range(len(out))]


def _test_inputs(record_dir, split="val"):
    """The validation (or train) images as main.py -e feeds them (its test transform), NHWC, with labels."""
    cfg = load_config(CONFIG_FILE + ":imagenet_resnet18", SIZES)
    with tf.Graph().as_default(), tf.Session() as sess:
        data = record_data(record_dir, read_meta(record_dir), record_input(cfg))
        batch = tf.data.make_one_shot_iterator((data.val if split == "val" else data.train_eval)()).get_next()
        images, labels = [], []
        while True:
            try:
                x, y, _ = sess.run(batch)
            except tf.errors.OutOfRangeError:
                return np.concatenate(images), np.concatenate(labels)
            images.append(x)
            labels.append(y)


def _numpy_knn(bank, bank_labels, queries, labels, k=200, sigma=0.07, classes=10):
    sims = queries @ bank.T
    top = np.argsort(-sims, axis=1, kind="stable")[:, :min(k, len(bank))]
    scores = np.zeros((len(queries), classes))
    for i, row in enumerate(top):
        np.add.at(scores[i], bank_labels[row], np.exp(sims[i, row] / sigma))
    order = np.argsort(-scores, axis=1, kind="stable")
    return {"top1": float(np.mean(order[:, 0] == labels)),
            "top5": float(np.mean((order[:, :5] == labels[:, None]).any(1)))}


@pytest.fixture(scope="module")
def release_file(toy_image_dir, toy_record_dir, tmp_path_factory):
    """A release-style ResNet-18 checkpoint whose bank row r (ImageFolder order) is near its class's (centred)
    centroid of the PyTorch val features: the kNN is high with the right row order, low with a wrong one."""
    mp = pytest.MonkeyPatch()
    lr.install_release_modules(mp)
    path = str(tmp_path_factory.mktemp("lemniscate") / "lemniscate_resnet18.pth.tar")
    model = lr.release_model("resnet18", size=SIZES["image_size"])
    images, val_labels = _test_inputs(toy_record_dir)
    val = lr.torch_embedding(model, images.transpose(0, 3, 1, 2))
    names, train_labels = _imagefolder_order(toy_image_dir)
    centroids = np.stack([val[val_labels == c].mean(0) for c in range(10)]) - val.mean(0)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    bank = centroids[train_labels] + 0.05 * np.random.RandomState(0).randn(len(names), 128)
    bank = (bank / np.linalg.norm(bank, axis=1, keepdims=True)).astype(np.float32)
    lr.save_release_checkpoint(path, "resnet18", len(names), size=SIZES["image_size"], memory=bank)
    yield path, bank, names, train_labels, val, val_labels, model
    mp.undo()


def test_evaluate_a_release_file_against_its_reordered_bank(release_file, toy_record_dir, capsys):
    path, bank, names, train_labels, val, val_labels, model = release_file
    results = run_script(main_script, [toy_record_dir, "--resume", path, "-e", "--recompute-memory"] + FLAGS)
    got = results["knn200_bank"]
    out = capsys.readouterr().out
    assert "=> loaded checkpoint '%s' (epoch 200)" % path in out and "knn200_bank: top-1" in out
    position = {n: i for i, n in enumerate(names)}
    rows = [position[n] for n in _record_names(toy_record_dir)]  # record index -> the release's row
    want = _numpy_knn(bank[rows], train_labels[rows], val, val_labels)
    assert got == pytest.approx(want, abs=1e-9)
    unordered = _numpy_knn(bank, train_labels[rows], val, val_labels)  # the stored order, not moved
    assert want["top1"] >= 0.3 and unordered["top1"] <= want["top1"] - 0.2  # 0.375 and 0.125 (chance 0.1)
    images, labels = _test_inputs(toy_record_dir, "train")  # --recompute-memory: the train images' features
    recomputed = _numpy_knn(lr.torch_embedding(model, images.transpose(0, 3, 1, 2)), labels, val, val_labels)
    assert results["knn200_recomputed"] == pytest.approx(recomputed, abs=1e-9)


def test_evaluate_a_zoo_converted_directory(release_file, toy_record_dir, tmp_path):
    path, bank, names, train_labels, val, val_labels, _ = release_file
    zoo_convert("lemniscate", path, str(tmp_path / "r18"))
    from_file = run_script(main_script, [toy_record_dir, "--resume", path, "-e"] + FLAGS)
    assert run_script(main_script, [toy_record_dir, "--resume", str(tmp_path / "r18"), "-e"] + FLAGS) == from_file


def test_missing_and_extra_images_are_one_line(release_file, toy_image_dir, tmp_path):
    path = release_file[0]
    folder = str(tmp_path / "images")
    shutil.copytree(toy_image_dir, folder)
    ensure_records(folder)  # records of the 160 images
    train = os.path.join(folder, "train")
    cls = sorted(os.listdir(train))[3]
    first = sorted(os.listdir(os.path.join(train, cls)))[0]
    shutil.copy(os.path.join(train, cls, first), os.path.join(train, cls, "zz_extra.JPEG"))
    with pytest.raises(ValueError, match=r"1 images of %s are missing from the records \(first: %s/zz_extra.JPEG\)$"
                       % (train, cls)):
        main_script.main([folder, "--resume", path, "-e"] + FLAGS)
    os.remove(os.path.join(train, cls, "zz_extra.JPEG"))
    os.remove(os.path.join(train, cls, first))
    with pytest.raises(ValueError, match=r"1 record images are not in %s \(first: %s/%s\)$" % (train, cls, first)):
        main_script.main([folder, "--resume", path, "-e"] + FLAGS)
    with pytest.raises(ValueError, match="the checkpoint is a resnet18 .its `arch`., not --arch resnet50"):
        main_script.main([folder + "_records", "--resume", path, "-e", "-a", "resnet50"])
    with pytest.raises(ValueError, match="a release checkpoint is evaluated with -e"):
        main_script.main([folder + "_records", "--resume", path] + FLAGS)
