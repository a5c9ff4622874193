"""The command-line layer (common/cli.py): precedence, config keys, --set, booleans, one-line errors."""
import json
import subprocess
import sys

import pytest

from common import cli
from common.config import ConfigError

FLAGS = [cli.Flag("lr", 0.1, "learning rate", names=("--lr", "--learning-rate")),
         cli.Flag("epochs", 10, "epochs"),
         cli.Flag("arch", "resnet18", "backbone", choices=("resnet18", "resnet50")),
         cli.Flag("last_relu", True, "last ReLU"),
         cli.Flag("data_dir", None, "records", type=str, required=True),
         cli.Flag("geometry", {"size": 32, "pad": 2}, "config-only nested setting", flag=False)]


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"base": {"lr": 0.5, "epochs": 3, "data_dir": "d"},
                                "child": {"base": "base", "arch": "resnet50", "last_relu": False},
                                "bad": {"lr": 0.5, "lrr": 1},
                                "typed": {"epochs": "ten"},
                                "phased": {"data_dir": "d", "counter": {"epochs": 7}, "classifier": {"epochs": 9}}}))
    return str(path)


def _resolve(argv, **kw):
    return cli.resolve(cli.make_parser(FLAGS), FLAGS, argv, **kw)


def test_precedence_flag_over_set_over_config_over_default(config):
    args = _resolve(["--config", config + ":child"])
    assert (args.lr, args.epochs, args.arch, args.last_relu, args.geometry) == (0.5, 3, "resnet50", False,
                                                                                 {"size": 32, "pad": 2})
    args = _resolve(["--config", config + ":child", "--set", "lr=0.25", "--set", "geometry.size=64"])
    assert args.lr == 0.25 and args.geometry == {"size": 64, "pad": 2}
    args = _resolve(["--config", config + ":child", "--set", "lr=0.25", "--learning-rate", "0.01"])
    assert args.lr == 0.01
    args = _resolve(["--data_dir", "x"])
    assert (args.lr, args.epochs, args.data_dir, args.gpu, args.logdir) == (0.1, 10, "x", None, None)


def test_boolean_flags_absl_style(config):
    assert _resolve(["--data_dir", "x", "--last_relu", "False"]).last_relu is False
    assert _resolve(["--data_dir", "x", "--last_relu", "true"]).last_relu is True
    assert _resolve(["--config", config + ":child", "--last_relu"]).last_relu is True
    assert _resolve(["--data_dir", "x", "--nolast_relu"]).last_relu is False


def test_phase_sections(config):
    args = _resolve(["--config", config + ":phased"], section="counter", sections=("counter", "classifier"))
    assert args.epochs == 7
    args = _resolve(["--config", config + ":phased", "--set", "classifier.epochs=4"], section="classifier",
                    sections=("counter", "classifier"))
    assert args.epochs == 4


def test_bad_input_is_one_line_naming_the_key(config):
    with pytest.raises(ConfigError, match=r"config .*c.json:bad: unknown key 'lrr'; valid keys: lr, epochs, arch"):
        _resolve(["--config", config + ":bad", "--data_dir", "x"])
    with pytest.raises(ConfigError, match="epochs must be int, got 'ten'"):
        _resolve(["--config", config + ":typed", "--data_dir", "x"])
    with pytest.raises(ConfigError, match="--data_dir is required"):
        _resolve([])
    with pytest.raises(ConfigError, match="unknown parameter 'nope'.*valid parameters: arch"):
        _resolve(["--data_dir", "x", "--set", "nope=1"])
    with pytest.raises(ConfigError, match="override epochs='x': cannot be read as int"):
        _resolve(["--data_dir", "x", "--set", "epochs=x"])


SCRIPT = """
import sys
from common import cli
FLAGS = [cli.Flag("epochs", 10, "epochs"), cli.Flag("out", "", "output file")]
def main(argv=None):
    args = cli.resolve(cli.make_parser(FLAGS), FLAGS, argv)
    if args.epochs == 13:
        raise FloatingPointError("loss became NaN at step 3; last finite checkpoint /x/model-2")
    if args.out:
        open(args.out, "w")
    print("epochs", args.epochs)
cli.run(main)
"""


@pytest.mark.parametrize("argv,status,message", [
    (["--epochs", "x"], 2, "error: argument --epochs: invalid int value: 'x'"),
    (["--bogus"], 2, "error: unrecognized arguments: --bogus"),
    (["--config", "nofile.json:k"], 2, "error: config file not found: nofile.json"),
    (["--epochs", "-1"], 2, "error: --epochs must be > 0, got -1"),
    (["--epochs", "13"], 1, "error: loss became NaN at step 3; last finite checkpoint /x/model-2"),
    (["--out", "/proc/no/such/file"], 1, "error: /proc/no/such/file: No such file or directory")])
def test_run_turns_bad_input_into_one_line(argv, status, message):
    proc = subprocess.run([sys.executable, "-c", SCRIPT] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    assert proc.returncode == status and proc.stderr.strip().splitlines()[-1] == message and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    ok = subprocess.run([sys.executable, "-c", SCRIPT, "--epochs", "3"], stdout=subprocess.PIPE,
                        universal_newlines=True)
    assert ok.returncode == 0 and ok.stdout.strip() == "epochs 3"
