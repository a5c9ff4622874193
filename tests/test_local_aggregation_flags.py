"""Flag tables, config merge and the three release JSON files of the Local Aggregation release."""
import json
import os
import shlex

import pytest

from common import cli
from local_aggregation.flags import PRETRAIN_FLAGS, SCRIPTS, parse_flags

REQUIRED = ["--image_dir", "TFRS", "--cache_dir", "SAVE"]


def _pre(*argv):
    return parse_flags("train", list(argv) + REQUIRED)[0]


def _trans(*argv):
    return parse_flags("train_transfer", list(argv) + REQUIRED)[0]


def test_res18_la_values_and_defaults():
    args = _pre("--config", "exp_configs/la_final.json:res18_LA")
    assert (args.task, args.model_type, args.exp_id) == ("LA", "resnet18", "res18_LA")
    assert (args.load_exp, args.load_step, args.train_num_steps) == ("la_pub/test/res18_IR", 100090, 2001800)
    assert args.kmeans_k.split(",") == ["30000"] * 10 and args.lr_boundaries == "1600000,1873411"
    assert (args.batch_size, args.init_lr, args.instance_k, args.instance_t) == (128, 0.03, 4096, 0.07)
    assert (args.data_len, args.weight_decay, args.fre_valid, args.fre_cache_filter) == (1281167, 1e-4, 10009, 10009)


def test_command_line_beats_config():
    args = _pre("--config", "exp_configs/la_final.json:res18_LA", "--batch_size", "16", "--kmeans_k", "5")
    assert (args.batch_size, args.kmeans_k, args.train_num_steps) == (16, "5", 2001800)


@pytest.mark.parametrize("key,expected", [
    ("alexnet_LA", ("alexnet_bn_no_drop", 3, "1190000,1423100", 1601440, 128, 10009)),
    ("vggnet_LA", ("vggnet_fx", 6, "680681,790791", 890712, 256, 5004)),
    ("res50_LA", ("resnet50", 10, "1522000,1895857", 2001800, 128, 10009))])
def test_la_configs(key, expected):
    a = _pre("--config", "exp_configs/la_final.json:" + key)
    got = (a.model_type, len(a.kmeans_k.split(",")), a.lr_boundaries, a.train_num_steps, a.batch_size, a.fre_valid)
    assert got == expected and a.load_exp == "la_pub/test/%s_IR" % key.split("_")[0] and a.load_step == 100090


@pytest.mark.parametrize("arch", ["alexnet", "vggnet", "res18", "res50"])
def test_ir_configs(arch):
    a = _pre("--config", "exp_configs/la_final.json:%s_IR" % arch)
    assert (a.task, a.train_num_steps, a.load_exp, a.lr_boundaries) == ("IR", 100090, None, None)


@pytest.mark.parametrize("key,layers,crop,wd,steps", [
    ("trans_alexnet_LA", "conv1,conv2,conv3,conv4,conv5", "alexnet_crop_flip", 0.0, 2252025),
    ("trans_vggnet_LA", "0,1,2,3,4", "default", 1e-4, 1401260),
    ("trans_res18_LA", "1,3,5,7,9", "default", 1e-4, 2702430),
    ("trans_res50_LA", "1,4,8,14,17", "default", 1e-4, 2702430)])
def test_transfer_configs(key, layers, crop, wd, steps):
    a = _trans("--config", "exp_configs/la_trans_final.json:" + key)
    assert (a.get_all_layers, a.train_crop, a.weight_decay, a.train_num_steps) == (layers, crop, wd, steps)
    assert a.ten_crop and a.num_classes == 1000 and a.init_lr == 0.01
    p = _trans("--config", "exp_configs/la_plc_trans_final.json:plc_" + key)
    assert (p.num_classes, p.train_crop, p.get_all_layers, p.load_step) == (205, "alexnet_crop_flip", layers,
                                                                            a.load_step)
    assert p.save_exp == a.save_exp.replace("trans_test", "plc_trans_test")


def _error(capsys, script, argv):
    with pytest.raises(SystemExit) as e:
        cli.run(lambda a: parse_flags(script, a), argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1
    return err


def test_config_key_without_flag_is_an_error(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"x": {"exp_id": "x", "port": 27009}}))
    err = _error(capsys, "train", ["--config", "%s:x" % path] + REQUIRED)
    assert "unknown key 'port'; valid keys: exp_id, init_lr" in err


def test_missing_required_and_bad_types_are_one_line(tmp_path, capsys):
    assert "--exp_id is required" in _error(capsys, "train", REQUIRED)
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"x": {"exp_id": "x", "batch_size": "big"}}))
    assert "batch_size must be int" in _error(capsys, "train", ["--config", "%s:x" % path] + REQUIRED)
    assert "no key 'nope'" in _error(capsys, "train", ["--config", "exp_configs/la_final.json:nope"])
    assert "--batch_size" in _error(capsys, "train", ["--batch_size", "x"])
    cluster = ["--ps_hosts", "a:1", "--worker_hosts", "a:2", "--job_name", "worker", "--task_index", "0"]
    assert "train on one machine" in _error(capsys, "train", ["--exp_id", "x"] + REQUIRED + cluster)


def _readme_commands():
    text = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "local_aggregation",
                             "README.md")).read()
    block = text.split("## Commands (as in the release)")[1].split("```")[1]
    return [shlex.split(line)[1:] for line in block.splitlines() if line.startswith("python local_aggregation/")]


def test_every_readme_command_line_parses():
    lines = _readme_commands()
    assert len(lines) == 4
    for argv in lines:
        args, _ = parse_flags(os.path.basename(argv[0])[:-len(".py")], argv[1:])
        assert (args.gpu, args.cache_dir, args.config) == ("0", "SAVE", argv[2])


def test_parse_flags_of_each_script(tmp_path):
    """(args, cfg) of every script: a value from a flag, one from --config, one from --set, the rest defaults."""
    assert list(SCRIPTS) == ["train", "train_transfer", "knn_eval"]
    args, cfg = parse_flags("train", ["--config", "exp_configs/la_final.json:toy_LA", "--image_dir", "R",
                                      "--logdir", "L", "--batch_size", "16", "--set", "kmeans_k=7"])
    assert (cfg["batch_size"], cfg["exp_id"], cfg["kmeans_k"], cfg["cache_dir"], cfg["knn_k"]) == \
        (16, "toy_LA", "7", "L", 200)
    assert list(cfg) == [f.name for f in PRETRAIN_FLAGS] and all(getattr(args, k) == v for k, v in cfg.items())
    assert "gpu" in vars(args) and "gpu" not in cfg
    args, cfg = parse_flags("train_transfer", ["--config", "exp_configs/la_trans_final.json:toy_trans",
                                               "--image_dir", "R", "--cache_dir", "S", "--ten_crop", "False",
                                               "--set", "num_classes=5"])
    assert (cfg["ten_crop"], cfg["save_exp"], cfg["num_classes"], cfg["reader"]) == \
        (False, "la_toy/trans_test/toy_LA", 5, "tfdata")
    assert args.cache_dir == "S" and all(getattr(args, k) == v for k, v in cfg.items())
    config = tmp_path / "knn.json"
    config.write_text(json.dumps({"x": {"knn_k": 5, "image_dir": "R"}}))
    args, cfg = parse_flags("knn_eval", ["CKPT", "--config", "%s:x" % config, "--batch_size", "8",
                                         "--set", "knn_t=0.1"])
    assert args.checkpoint == "CKPT" and not hasattr(args, "gpu")
    assert cfg == {"image_dir": "R", "knn_k": 5, "knn_t": 0.1, "model_type": "resnet18", "batch_size": 8}
