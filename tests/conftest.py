"""Session fixtures: the toy image folder (10 classes x 16 train + 4 val, 96 px) and its TFRecords; every test
leaves the process unseeded."""
import os

import pytest

from common import seeding
from dataset_miscs.build_tfrs import build_tfrecords
from dataset_miscs.make_toy_dataset import make_toy_dataset

TOY = dict(num_classes=10, train_per_class=16, val_per_class=4, size=96, seed=0)


@pytest.fixture(scope="session")
def toy_image_dir(tmp_path_factory):
    """ImageNet-style folder (train/<wnid>/*.JPEG, val/<wnid>/*.JPEG, class_names.txt) of the toy set."""
    return str(make_toy_dataset(str(tmp_path_factory.mktemp("toy") / "images"), workers=1, **TOY))


@pytest.fixture(scope="session")
def toy_record_dir(toy_image_dir, tmp_path_factory):
    """TFRecords of ``toy_image_dir``: 2 train shards (160 images, seed 0), 1 validation shard (40 images)."""
    out = str(tmp_path_factory.mktemp("toy") / "records")
    return build_tfrecords(toy_image_dir, out, random_seed=0, train_shards=2, val_shards=1, workers=1,
                           log=lambda msg: None)


@pytest.fixture(autouse=True)
def process_seed_restored():
    """A script's ``--seed`` is process-wide (``common.seeding``): after each test the process is unseeded again
    and ``TF_CUDNN_DETERMINISTIC`` as before, so no test sees another's seed."""
    cudnn = os.environ.get("TF_CUDNN_DETERMINISTIC")
    yield
    seeding.set_seed(None)
    if cudnn is None:
        os.environ.pop("TF_CUDNN_DETERMINISTIC", None)
    else:
        os.environ["TF_CUDNN_DETERMINISTIC"] = cudnn
