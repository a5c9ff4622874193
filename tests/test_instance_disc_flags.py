"""instance_disc's flag table: every README and release command line parses, each script's parse_flags gives its
flags' values, every config key is a setting, the learning rate of each epoch follows the release, and CIFAR
batches never repeat an index."""
import os
import re
import shlex

import numpy as np
import pytest

from common.config import load_config
from common.schedules import value_during
from common.tf1 import tf
from instance_disc.flags import CONFIG_FILE, FLAGS, SCRIPTS, parse_flags
from instance_disc.inputs import array_dataset
from instance_disc.model import lr_schedule

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_KEYS = ("imagenet_resnet18", "imagenet_resnet50", "imagenet_resnet50_softmax_ce", "cifar10", "toy")
# the original release's README lines (lemniscate), with its script names
RELEASE_LINES = [
    "main.py DATAPATH --arch resnet18 -j 32 --nce-k 4096 --nce-t 0.07 --lr 0.03 --nce-m 0.5 --low-dim 128 -b 256",
    "main.py DATAPATH --arch resnet18 --resume input_model.pth.tar -e",
    "main.py DATAPATH -a resnet50 --epochs 200 --print-freq 20 --wd 1e-4 --momentum 0.9 --learning-rate 0.03",
    "main.py DATAPATH -p 5 --weight-decay 1e-4 --batch-size 128",
    "cifar.py --nce-k 0 --nce-t 0.1 --lr 0.03",
    "cifar.py --lr 0.03 --resume ckpt.t7 --test-only",
]


def _readme_lines():
    text = open(os.path.join(ROOT, "instance_disc", "README.md")).read()
    found = re.findall(r"python instance_disc/(\w+\.py) ([^\n`]*)", text)
    return [(script, args.split("  #")[0].replace("[", "").replace("]", "")) for script, args in found]


def _parse(script, line):
    return parse_flags(script[:-len(".py")], shlex.split(line))


@pytest.mark.parametrize("script,line", _readme_lines())
def test_every_readme_command_line_parses(script, line):
    _parse(script, line)


def test_readme_lists_the_release_scripts():
    assert {s for s, _ in _readme_lines()} == {s + ".py" for s in SCRIPTS}


@pytest.mark.parametrize("line", RELEASE_LINES)
def test_the_release_command_lines_parse_with_their_meaning(line):
    script, rest = line.split(" ", 1)
    args, cfg = _parse(script, rest)
    flags = shlex.split(rest)
    for names, key in ((("--nce-k",), "nce_k"), (("-b", "--batch-size"), "batch_size"), (("-p", "--print-freq"),
                       "print_freq"), (("--lr", "--learning-rate"), "lr"), (("--wd", "--weight-decay"), "weight_decay"),
                       (("-a", "--arch"), "arch")):
        for name in names:
            if name in flags:
                assert str(cfg[key]) == str(type(cfg[key])(flags[flags.index(name) + 1]))
    assert bool(getattr(args, "evaluate", False)) == ("-e" in flags)


@pytest.mark.parametrize("script,argv,extra", [
    ("main", ["DATA", "-e", "--gpu", "0"], {"data": "DATA", "evaluate": True, "gpu": "0"}),
    ("cifar", ["--data-dir", "D", "-r", "CKPT"], {"data_dir": "D", "resume": "CKPT", "test_only": False}),
    ("linear_eval", ["DATA", "--resume", "CKPT", "--steps", "7"], {"resume": "CKPT", "steps": 7, "layers": "pre_logits"}),
    ("show_neighbors", ["DATA", "--resume", "CKPT", "--top", "3"], {"resume": "CKPT", "top": 3, "out": "neighbors.png"}),
])
def test_parse_flags_of_each_script(script, argv, extra):
    """A flag, a --set and a --config value each reach cfg (and args); the script's own arguments reach args."""
    argv = argv + ["--nce-k", "16", "--set", "knn_k=5", "--config", CONFIG_FILE + ":toy"]
    args, cfg = parse_flags(script, argv)
    want = dict({f.name: f.default for f in FLAGS}, **load_config(CONFIG_FILE + ":toy"))
    assert cfg == dict(want, nce_k=16, knn_k=5)
    assert cfg["epochs"] == load_config(CONFIG_FILE + ":toy")["epochs"] != 200  # from --config
    assert {k: getattr(args, k) for k in extra} == extra and args.nce_k == 16 and args.knn_k == 5
    assert hasattr(args, "gpu") == (script in ("main", "cifar"))  # the device flags of the training scripts


def test_parse_flags_defaults_and_unknown_script():
    assert parse_flags("cifar", [])[0].config == CONFIG_FILE + ":cifar10"
    assert parse_flags("main", ["DATA"])[1]["batch_size"] == load_config(CONFIG_FILE + ":imagenet_resnet18")[
        "batch_size"]
    with pytest.raises(ValueError, match="^unknown script 'train' of instance_disc; known: main, cifar, "
                                         "linear_eval, show_neighbors$"):
        parse_flags("train", [])


@pytest.mark.parametrize("key", CONFIG_KEYS)
def test_every_config_key_is_a_setting(key):
    names = {f.name for f in FLAGS}
    assert set(load_config(CONFIG_FILE + ":" + key)) <= names
    _, cfg = parse_flags("main", ["DATA", "--config", CONFIG_FILE + ":" + key])
    assert cfg == {name: value for name, value in dict(
        {f.name: f.default for f in FLAGS}, **load_config(CONFIG_FILE + ":" + key)).items()}


@pytest.mark.parametrize("key", ["imagenet_resnet18", "cifar10", "toy"])
def test_rate_of_every_epoch_follows_the_release(key):
    cfg = load_config(CONFIG_FILE + ":" + key)
    for epoch in range(1, cfg["epochs"] + 1):  # the release: lr * 0.1 ** (number of 0-based boundaries passed)
        want = cfg["lr"] * 0.1 ** sum(epoch - 1 >= b for b in cfg["lr_decay_epochs"])
        assert value_during(lr_schedule(cfg).points, epoch, cfg["lr"]) == pytest.approx(want, rel=1e-9)
    if key != "toy":  # 0-based epochs 0-119: 0.03, 120-159: 0.003, 160-199: 0.0003
        assert [value_during(lr_schedule(cfg).points, e, 0.03) for e in (120, 121, 160, 161)] == pytest.approx(
            [0.03, 0.003, 0.003, 0.0003])


def test_cifar_batches_never_repeat_an_index():
    n, batch = 10, 4
    images, labels = np.zeros((n, 2, 2, 3), np.uint8), np.arange(n)
    with tf.Graph().as_default(), tf.Session() as sess:
        dataset = array_dataset(images, labels, batch, lambda x: tf.cast(x, tf.float32), True, True, True)
        index = tf.data.make_one_shot_iterator(dataset).get_next()[2]
        batches = [sess.run(index) for _ in range(30)]
    for b in batches:
        assert len(set(b.tolist())) == batch
    for epoch in range(15):  # two batches per epoch (the last 2 images of each shuffle are dropped)
        assert len(set(np.concatenate(batches[2 * epoch:2 * epoch + 2]).tolist())) == 2 * batch
