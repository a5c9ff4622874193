"""Counting CLI and schedules: the release's flags through common.cli, config precedence, devices and steps per
epoch, the experiment directory rule, LR values."""
import numpy as np
import pytest

from common import cli
from common.devices import setup_devices
from common.schedules import value_during
from counting import counter_trn, flags
from counting.optimizers import classifier_lr_schedule, counting_lr_schedule

README_CNT = ("--batch_size 256 --exp_name cnt_gpu4_bz256_adam_250 --net alexnet --learning_rate 0.0001 "
              "--gpu 0,1,2,3 --logits_dim 1000 --opt adam --epoch 250 --learning_rate_var_name lr_cnt "
              "--max_iters 1251").split()
README_CLS = ("--exp_name cls_gpu2_bz256_adam_250 --pretrained --cnt_exp_name cnt_gpu4_bz256_adam_250 "
              "--batch_size 256 --learning_rate 0.001 --opt adam --epoch 250 --net alexnet "
              "--learning_rate_var_nam lr_cls --gpu 0,1").split()


@pytest.fixture
def no_gpu(monkeypatch):
    """No GPU visible; setup_devices' change of CUDA_VISIBLE_DEVICES is undone after the test."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setattr("common.devices.available_gpus", lambda: [])


def test_counting_schedule_release_values():
    sched = counting_lr_schedule(250, 1e-4)
    assert sched[0][0] == 150 and len(sched) == 100
    expect = {1: 1e-4, 150: 1e-4, 151: 1e-4, 152: 9.9001e-5, 201: 5.005e-5, 250: 1.099e-6}
    for epoch, lr in expect.items():
        assert value_during(sched, epoch, 1e-4) == pytest.approx(lr, rel=1e-6)


def test_counting_schedule_matches_numpy_formula():
    rng = np.random.RandomState(0)
    for epochs, lr0 in zip(rng.randint(2, 300, 5), rng.uniform(1e-5, 1e-2, 5)):
        start = max(0, epochs - 100)
        i = np.arange(start, epochs)
        want = (lr0 - 1e-7) * (1 - (i - start) / float(epochs - start)) + 1e-7
        got = counting_lr_schedule(int(epochs), float(lr0))
        np.testing.assert_array_equal([e for e, _ in got], i)
        np.testing.assert_allclose([v for _, v in got], want, rtol=1e-12)


def test_classifier_schedule_release_values():
    sched = classifier_lr_schedule(250, 1e-3)
    expect = {1: 1e-3, 2: 9.92016e-4, 126: 2.50001e-4, 250: 1.69999e-8}
    for epoch, lr in expect.items():
        assert value_during(sched, epoch, 1e-3) == pytest.approx(lr, rel=1e-5)
    i = np.arange(250)
    np.testing.assert_allclose([v for _, v in sched], (1e-3 - 1e-9) * (1 - i / 250.0) ** 2 + 1e-9, rtol=1e-12)


def test_readme_command_lines_parse():
    args, cfg = flags.parse_flags("counter_trn", README_CNT)
    assert (args.batch_size, args.learning_rate, args.logits_dim, args.epoch, args.max_iters) == (
        256, 1e-4, 1000, 250, 1251)
    assert (args.opt, args.learning_rate_var_name, args.backbone, args.gpu, args.trainer) == (
        "adam", "lr_cnt", "alexnet_counting", "0,1,2,3", "ps")
    args, _ = flags.parse_flags("classifier_trn", README_CLS)
    assert (args.learning_rate_var_name, args.pretrained, args.gpu, args.logdir) == ("lr_cls", True, "0,1", None)
    assert args.cnt_exp_name == "cnt_gpu4_bz256_adam_250" and args.reader == "dali"


def test_release_defaults_without_config():
    """With an empty config, every release flag keeps the release's argparse default."""
    args, _ = flags.parse_flags("counter_trn", ["--config", "", "--exp_name", "e", "--learning_rate_var_name", "v"])
    assert (args.batch_size, args.prefix, args.checkpoint, args.dataset, args.learning_rate, args.lr_weight_decay,
            args.net, args.cnt_exp_name, args.epoch, args.max_iters, args.logits_dim, args.opt, args.pretrained,
            args.gpu) == (32, "default", None, "ImageNet", 1e-4, False, "alexnet", "", 100, None, 1000, "momentum",
                          False, None)


def test_config_fills_flags_not_given_and_flags_win():
    args, cfg = flags.parse_flags("counter_trn", ["--exp_name", "e", "--config", "exp_configs/counting.json:toy",
                                              "--epoch", "7"])
    assert args.epoch == 7 and args.batch_size == 32 and args.max_iters == 50
    assert args.learning_rate_var_name == "lr_cnt" and cfg["image_size"] == 96
    args, cfg = flags.parse_flags("classifier_trn", ["--exp_name", "e"])
    assert (args.batch_size, args.learning_rate, args.epoch, args.opt) == (256, 1e-3, 250, "adam")
    assert cfg["pool_sizes"] == [7, 6, 4, 4, 3] and cfg["image_size"] == 256
    args, cfg = flags.parse_flags("counter_trn", ["--exp_name", "e", "--config", "exp_configs/counting.json:toy_20k",
                                              "--set", "counter.epoch=9", "--set", "cnt_schedule.tail_epochs=3"])
    assert (args.epoch, args.batch_size, cfg["cnt_schedule"]["tail_epochs"]) == (9, 32, 3)
    assert cfg["cnt_schedule"]["end_lr"] == 1e-7  # nested objects extend the base's key by key


@pytest.mark.parametrize("script,phase,batch_size", [("counter_trn", "counter", 32),
                                                     ("classifier_trn", "classifier", 64)])
def test_parse_flags_of_each_script(script, phase, batch_size):
    """(args, cfg) of each script: a value from a flag, one from --config (the script's phase object), one from
    --set; cfg holds exactly the config-only settings."""
    args, cfg = flags.parse_flags(script, ["--exp_name", "e", "--config", "exp_configs/counting.json:toy",
                                           "--set", "%s.epoch=3" % phase, "--set", "margin=2.5"])
    assert (args.exp_name, args.batch_size, args.epoch, args.backbone) == ("e", batch_size, 3, "alexnet_counting")
    assert cfg == {name: getattr(args, name) for name in flags.SETTINGS}
    assert (cfg["image_size"], cfg["margin"], cfg["pool_sizes"]) == (96, 2.5, [6, 3, 2, 2, 2])
    by_phase = flags.parse_flags(phase, ["--exp_name", "e", "--config", "exp_configs/counting.json:toy",
                                         "--set", "%s.epoch=3" % phase, "--set", "margin=2.5"])
    assert (vars(by_phase[0]), by_phase[1]) == (vars(args), cfg)  # the release's phase name names the script too
    with pytest.raises(ValueError, match="^unknown script 'count' of counting; known: counter_trn, classifier_trn$"):
        flags.parse_flags("count")


def test_steps_per_epoch_count_the_towers_that_run(no_gpu):
    args, _ = flags.parse_flags("counter_trn", README_CNT[:-2] + ["--gpu", "", "--cpu_towers", "4"])
    towers = setup_devices(args)
    assert len(towers) == 4 and towers.on_cpu
    assert flags.resolve_max_iters(args, 1281167, towers) == 1251  # 1281167 // (256 * 4)
    args, _ = flags.parse_flags("classifier_trn", README_CLS + ["--gpu", "", "--cpu_towers", "2"])
    assert flags.resolve_max_iters(args, 1281167, setup_devices(args)) == 2502  # 1281167 // (256 * 2)
    args, _ = flags.parse_flags("classifier_trn", README_CLS + ["--gpu", ""])
    assert flags.resolve_max_iters(args, 1281167, setup_devices(args)) == 5004  # one CPU tower
    args, _ = flags.parse_flags("counter_trn", README_CNT + ["--gpu", "", "--cpu_towers", "2"])
    assert flags.resolve_max_iters(args, 1281167, setup_devices(args)) == 1251  # --max_iters wins


def test_phase_2_steps_come_from_the_data(no_gpu):
    """The release recomputes phase 2's max_iters from the data: a different --max_iters is refused."""
    args, _ = flags.parse_flags("classifier_trn", README_CLS + ["--gpu", "", "--max_iters", "7"])
    with pytest.raises(ValueError, match=r"^--max_iters 7: phase 2 takes its steps per epoch from the data, as the "
                                         r"release does: 1281167 train images // \(--batch_size 256 x 1 tower\(s\)\) "
                                         r"= 5004; drop --max_iters$"):
        flags.resolve_max_iters(args, 1281167, setup_devices(args), from_data=True)
    args, _ = flags.parse_flags("classifier_trn", README_CLS + ["--gpu", "", "--max_iters", "5004"])
    assert flags.resolve_max_iters(args, 1281167, setup_devices(args), from_data=True) == 5004


def test_missing_gpu_is_one_error_line(no_gpu, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.run(counter_trn.main, README_CNT + ["--data_dir", str(tmp_path)])
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --gpu 0,1,2,3: GPU 0 does not exist")


def test_experiment_dir_rule(tmp_path, monkeypatch):
    proj = tmp_path / "tf_unsupervised_count"
    proj.mkdir()
    monkeypatch.chdir(proj)
    path = flags.experiment_dir(str(tmp_path / "ckpt"), "cnt_a")
    assert path == str(tmp_path / "ckpt" / "tf_unsupervised_count" / "cnt_a")


@pytest.mark.parametrize("argv,message", [
    (["--exp_name", "e", "--batch_size", "7"], "--batch_size 7"),
    (["--exp_name", "e", "--net", "vgg"], "--net vgg"),
    (["--exp_name", "e", "--config", "exp_configs/counting.json:nope"], "no key 'nope'"),
    (["--exp_name", "e", "--set", "counter.epochs=3"], "unknown parameter 'epochs'"),
    (["--exp_name", "e", "--opt", "sgd"], "argument --opt: invalid choice: 'sgd'"),
    (["--exp_name", "e", "--batch_size", "x"], "argument --batch_size: invalid int value: 'x'"),
    (["--epoch", "3"], "--exp_name is required"),
])
def test_bad_flags_give_one_error_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.run(counter_trn.main, argv)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_unknown_config_key_is_refused(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text('{"k": {"base": "%s", "counter": {"epochs": 3}}}' % flags.DEFAULT_CONFIG)
    with pytest.raises(SystemExit):
        cli.run(counter_trn.main, ["--exp_name", "e", "--config", str(path) + ":k"])
    line = capsys.readouterr().err.strip()
    assert "unknown key 'epochs'" in line and "valid keys: batch_size, prefix" in line


def test_command_lines_of_the_readme_parse():
    """The two complete command lines shown in counting/README.md parse (the release's lines plus --data_dir).

    Lines elided with ``...`` (the zoo's ``--cnt_exp_name`` examples) are excerpts, not command lines."""
    import os
    import shlex
    readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "counting", "README.md")
    with open(readme) as f:
        lines = [shlex.split(line) for line in f if line.strip().startswith("python counting/")
                 and "..." not in line.split()]
    scripts = {"counting/counter_trn.py": "counter_trn", "counting/classifier_trn.py": "classifier_trn"}
    assert sorted(line[1] for line in lines) == sorted(scripts)
    for line in lines:
        args, _ = flags.parse_flags(scripts[line[1]], line[2:])
        assert args.data_dir == "/data/imagenet_records" and args.batch_size == 256
        release = README_CNT if scripts[line[1]] == "counter_trn" else README_CLS
        assert line[2:2 + len(release)] == release
