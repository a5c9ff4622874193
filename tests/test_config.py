"""common.config: file.json:key, base inheritance, typed overrides, one-line errors."""
import json

import pytest

from common.config import ConfigError, apply_overrides, load_config


@pytest.fixture
def cfgdir(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({
        "base_run": {"lr": 0.1, "batch": 256, "arch": "resnet18", "nesterov": True, "steps": [30, 60]},
        "small": {"base": "base_run", "batch": 32},
        "cross": {"base": "b.json:other", "lr": 0.5},
        "loop1": {"base": "loop2"}, "loop2": {"base": "loop1"},
    }))
    (tmp_path / "b.json").write_text(json.dumps({"other": {"base": "a.json:small", "arch": "resnet50"}}))
    (tmp_path / "bad.json").write_text('{\n  "x": {"lr": 0.1,}\n}\n')
    return tmp_path


def test_base_inheritance_same_and_other_file(cfgdir):
    assert load_config(str(cfgdir / "a.json:small")) == {
        "lr": 0.1, "batch": 32, "arch": "resnet18", "nesterov": True, "steps": [30, 60]}
    cross = load_config(str(cfgdir / "a.json:cross"))
    assert cross["arch"] == "resnet50" and cross["lr"] == 0.5 and cross["batch"] == 32


def test_overrides_are_typed_like_the_value_they_replace(cfgdir):
    cfg = load_config(str(cfgdir / "a.json:small"),
                      ["lr=0.01", "batch=64", "nesterov=false", "steps=[10, 20]", "arch=vgg16"])
    assert cfg["lr"] == 0.01 and isinstance(cfg["lr"], float)
    assert cfg["batch"] == 64 and isinstance(cfg["batch"], int)
    assert cfg["nesterov"] is False and cfg["steps"] == [10, 20] and cfg["arch"] == "vgg16"
    assert apply_overrides(cfg, {"batch": "8"})["batch"] == 8


@pytest.mark.parametrize("spec,overrides,message", [
    ("missing.json:x", None, "config file not found"),
    ("bad.json:x", None, "line 2, column"),
    ("a.json:smal", None, "available keys: base_run, cross, loop1, loop2, small"),
    ("a.json:small", ["lrr=1"], "unknown parameter 'lrr'"),
    ("a.json:small", ["batch=abc"], "cannot be read as int"),
    ("a.json:loop1", None, "inheritance cycle"),
    ("a.json", None, "expected FILE.json:KEY"),
])
def test_errors_are_one_clear_line(cfgdir, spec, overrides, message):
    with pytest.raises(ConfigError) as e:
        load_config(str(cfgdir / spec), overrides)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_nested_objects_extend_the_base_key_by_key(tmp_path):
    (tmp_path / "n.json").write_text(json.dumps({
        "root": {"lr": 0.1, "phase": {"epoch": 5, "opt": "adam", "sched": {"power": 1.0, "end": 0.0}}},
        "child": {"base": "root", "phase": {"epoch": 50, "sched": {"power": 2.0}}},
        "swap": {"base": "root", "phase": 3}}))
    assert load_config(str(tmp_path / "n.json:child")) == {
        "lr": 0.1, "phase": {"epoch": 50, "opt": "adam", "sched": {"power": 2.0, "end": 0.0}}}
    assert load_config(str(tmp_path / "n.json:swap")) == {"lr": 0.1, "phase": 3}


def test_dotted_overrides_reach_nested_values_and_leave_the_input_alone(tmp_path):
    cfg = {"lr": 0.1, "phase": {"epoch": 5, "sched": {"power": 1.0}}, "a.b": 1}
    out = apply_overrides(cfg, ["phase.epoch=7", "phase.sched.power=2", "a.b=3", "lr=0.5"])
    assert out == {"lr": 0.5, "phase": {"epoch": 7, "sched": {"power": 2.0}}, "a.b": 3}
    assert isinstance(out["phase"]["sched"]["power"], float)
    assert cfg == {"lr": 0.1, "phase": {"epoch": 5, "sched": {"power": 1.0}}, "a.b": 1}
    for bad in ("phase.epochs=1", "lr.x=1", "phase.sched.power.x=1"):
        with pytest.raises(ConfigError) as e:
            apply_overrides(cfg, [bad], "n.json:root")
        message = str(e.value)
        assert "unknown parameter %r" % bad.split("=")[0] in message and "phase.sched.power" in message
        assert "\n" not in message
