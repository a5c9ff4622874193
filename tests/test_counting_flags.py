"""Counting CLI and schedules: the release's flags, config precedence, directory rule, LR values (spec 1, 4.7, 5.3)."""
import numpy as np
import pytest

from counting import flags
from counting.lr_schedules import classifier_lr_schedule, counting_lr_schedule, lr_during_epoch

README_CNT = ("--batch_size 256 --exp_name cnt_gpu4_bz256_adam_250 --net alexnet --learning_rate 0.0001 "
              "--gpu 0,1,2,3 --logits_dim 1000 --opt adam --epoch 250 --learning_rate_var_name lr_cnt "
              "--max_iters 1251").split()
README_CLS = ("--exp_name cls_gpu2_bz256_adam_250 --pretrained --cnt_exp_name cnt_gpu4_bz256_adam_250 "
              "--batch_size 256 --learning_rate 0.001 --opt adam --epoch 250 --net alexnet "
              "--learning_rate_var_nam lr_cls --gpu 0,1").split()


def test_counting_schedule_spec_values():
    sched = counting_lr_schedule(250, 1e-4)
    assert sched[0][0] == 150 and len(sched) == 100
    expect = {1: 1e-4, 150: 1e-4, 151: 1e-4, 152: 9.9001e-5, 201: 5.005e-5, 250: 1.099e-6}
    for epoch, lr in expect.items():
        assert lr_during_epoch(sched, epoch, 1e-4) == pytest.approx(lr, rel=1e-6)


def test_counting_schedule_matches_numpy_formula():
    rng = np.random.RandomState(0)
    for epochs, lr0 in zip(rng.randint(2, 300, 5), rng.uniform(1e-5, 1e-2, 5)):
        start = max(0, epochs - 100)
        i = np.arange(start, epochs)
        want = (lr0 - 1e-7) * (1 - (i - start) / float(epochs - start)) + 1e-7
        got = counting_lr_schedule(int(epochs), float(lr0))
        np.testing.assert_array_equal([e for e, _ in got], i)
        np.testing.assert_allclose([v for _, v in got], want, rtol=1e-12)


def test_classifier_schedule_spec_values():
    sched = classifier_lr_schedule(250, 1e-3)
    expect = {1: 1e-3, 2: 9.92016e-4, 126: 2.50001e-4, 250: 1.69999e-8}
    for epoch, lr in expect.items():
        assert lr_during_epoch(sched, epoch, 1e-3) == pytest.approx(lr, rel=1e-5)
    i = np.arange(250)
    np.testing.assert_allclose([v for _, v in sched], (1e-3 - 1e-9) * (1 - i / 250.0) ** 2 + 1e-9, rtol=1e-12)


def test_readme_command_lines_parse():
    args, cfg = flags.parse_flags("counter", README_CNT)
    assert (args.batch_size, args.learning_rate, args.logits_dim, args.epoch, args.max_iters) == (
        256, 1e-4, 1000, 250, 1251)
    assert (args.opt, args.learning_rate_var_name, args.backbone, flags.num_devices(args.gpu)) == (
        "adam", "lr_cnt", "alexnet_counting", 4)
    args, _ = flags.parse_flags("classifier", README_CLS)
    assert args.learning_rate_var_name == "lr_cls" and args.pretrained and flags.num_devices(args.gpu) == 2
    assert args.cnt_exp_name == "cnt_gpu4_bz256_adam_250"


def test_config_fills_flags_not_given_and_flags_win():
    args, cfg = flags.parse_flags("counter", ["--exp_name", "e", "--config", "exp_configs/counting.json:toy",
                                              "--epoch", "7"])
    assert args.epoch == 7 and args.batch_size == cfg["counter"]["batch_size"]
    assert args.learning_rate_var_name == "lr_cnt" and cfg["image_size"] == 96
    args, cfg = flags.parse_flags("classifier", ["--exp_name", "e"])
    assert (args.batch_size, args.learning_rate, args.epoch, args.opt) == (256, 1e-3, 250, "adam")
    assert cfg["pool_sizes"] == [7, 6, 4, 4, 3] and cfg["image_size"] == 256
    args, cfg = flags.parse_flags("counter", ["--exp_name", "e", "--config", "exp_configs/counting.json:toy_20k",
                                              "--set", "counter.epoch=9", "--set", "cnt_schedule.tail_epochs=3"])
    assert (args.epoch, args.batch_size, cfg["cnt_schedule"]["tail_epochs"]) == (9, 32, 3)


def test_steps_per_epoch_rule():
    args, _ = flags.parse_flags("counter", README_CNT[:-2])  # no --max_iters: 1281167 // (256 * 4)
    assert flags.resolve_max_iters(args, 1281167) == 1251
    args, _ = flags.parse_flags("classifier", README_CLS)
    assert flags.resolve_max_iters(args, 1281167) == 2502


def test_experiment_dir_rule(tmp_path, monkeypatch):
    proj = tmp_path / "tf_unsupervised_count"
    proj.mkdir()
    monkeypatch.chdir(proj)
    path = flags.experiment_dir(str(tmp_path / "ckpt"), "cnt_a", create=True)
    assert path == str(tmp_path / "ckpt" / "tf_unsupervised_count" / "cnt_a")
    assert (tmp_path / "ckpt" / "tf_unsupervised_count" / "cnt_a").is_dir()


@pytest.mark.parametrize("argv,message", [
    (["--exp_name", "e", "--batch_size", "7"], "--batch_size 7"),
    (["--exp_name", "e", "--net", "vgg"], "--net vgg"),
    (["--exp_name", "e", "--config", "exp_configs/counting.json:nope"], "no key 'nope'"),
])
def test_bad_flags_give_one_error_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        flags.parse_flags("counter", argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("counter: error:") or "error:" in err
    assert message in err
