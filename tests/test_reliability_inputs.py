"""Reliability II, bad inputs: every script refuses a value it cannot use up front, in one line naming the flag
or config key (negative or non-finite rates, a zero temperature, size or frequency, a null or malformed config
value), before it writes anything."""
import importlib
import json
import os

import pytest

from common import cli

DATA = "data/toy/records"
LA = ["--config", "exp_configs/la_final.json:toy_LA", "--image_dir", DATA]
CLS = ["--config", "exp_configs/classification.json:toy", "--data", DATA]
CASES = [
    ("instance_disc.main", [DATA, "--lr", "-0.1"], "--lr must be >= 0, got -0.1"),
    ("instance_disc.main", [DATA, "--momentum", "nan"], "--momentum must be a finite number, got nan"),
    ("instance_disc.main", [DATA, "--momentum", "0.9", "--wd=-1e-4"], "--wd must be >= 0, got -0.0001"),
    ("instance_disc.main", [DATA, "--image-size", "0"], "--image-size must be > 0, got 0"),
    ("instance_disc.cifar", ["--lr", "inf"], "--lr must be a finite number, got inf"),
    ("local_aggregation.train", LA + ["--init_lr", "-0.03"], "--init_lr must be >= 0, got -0.03"),
    ("local_aggregation.train", LA + ["--instance_t", "0"], "--instance_t must be > 0, got 0.0"),
    ("local_aggregation.train", LA + ["--fre_filter", "0", "--fre_cache_filter", "0"],
     "--fre_cache_filter must be > 0, got 0"),
    ("local_aggregation.train_transfer", ["--config", "exp_configs/la_trans_final.json:toy_trans",
                                          "--image_dir", DATA, "--weight_decay", "-1"],
     "--weight_decay must be >= 0, got -1.0"),
    ("revisiting.train_and_eval", ["--task", "rotation", "--lr", "-0.1"], "--lr must be >= 0, got -0.1"),
    ("counting.counter_trn", ["--exp_name", "e", "--learning_rate", "-1"], "--learning_rate must be >= 0, got -1.0"),
    ("counting.classifier_trn", ["--exp_name", "e", "--learning_rate", "nan"],
     "--learning_rate must be a finite number, got nan"),
    ("classification.train", CLS + ["--set", "momentum=-0.9"],
     "momentum (config exp_configs/classification.json:toy) must be >= 0, got -0.9"),
]


def error_line(capsys, module, argv):
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as e:
        cli.run(main, argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("module,argv,message", CASES, ids=["%s-%d" % (c[0], i) for i, c in enumerate(CASES)])
def test_unusable_value_is_refused_up_front(capsys, module, argv, message):
    assert error_line(capsys, module, argv) == "error: " + message


@pytest.mark.parametrize("value,message", [
    ({"nce_t": None}, "nce_t (config {}) must be float, got null"),
    ({"crop_scale": [1.0]}, "crop_scale (config {}) must be [min, max] with 0 < min <= max <= 1, got [1.0]"),
    ({"crop_scale": [0.9, 0.2]},
     "crop_scale (config {}) must be [min, max] with 0 < min <= max <= 1, got [0.9, 0.2]"),
])
def test_null_or_malformed_config_value_is_one_line(capsys, tmp_path, value, message):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"bad": dict(value, base=os.path.abspath("exp_configs/instance_disc.json") + ":toy")}))
    spec = "%s:bad" % config
    assert error_line(capsys, "instance_disc.main", [DATA, "--config", spec]) == "error: " + message.format(spec)


def test_classification_steps_per_epoch_refused_before_writing(capsys, tmp_path):
    argv = CLS + ["--steps_per_epoch", "-1", "--logdir", str(tmp_path / "run"), "--epochs", "1"]
    line = error_line(capsys, "classification.train", argv)
    assert line == "error: --steps_per_epoch must be >= 0 (0: one pass over the data), got -1"
    assert not os.path.exists(str(tmp_path / "run"))
