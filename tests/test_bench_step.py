"""The training-step benchmark (bench/step.py): step registry, the four precision/XLA rows, bad input."""
import logging

import pytest

from common.tf1 import tf


def tiny_bench_step(images, labels, args):
    """A one-layer classifier on the synthetic images (fast enough for a test)."""
    logits = tf.layers.dense(tf.layers.flatten(images), args.num_classes)
    return tf.losses.sparse_softmax_cross_entropy(labels, logits)


def test_step_benchmark_registry_table_and_bad_input(capsys):
    from bench import step
    step.register_step("tiny_test_step", tiny_bench_step)
    assert "tiny_test_step" in step.list_steps() and "classify" in step.list_steps()
    with pytest.raises(ValueError, match="registered twice"):
        step.register_step("tiny_test_step", lambda *a: None)
    flags = ["--model", "resnet18", "--step", "tiny_test_step", "--batch", "2", "--image-size", "8",
             "--num-classes", "3", "--steps", "2", "--warmup", "1"]
    level = logging.getLogger("tensorpack").level
    assert step.main(flags + ["--all"]) == 0
    assert logging.getLogger("tensorpack").level == level  # later TensorPack runs in this process still log INFO
    out = capsys.readouterr().out.splitlines()
    assert [c.strip() for c in out[0].split("|")[1:-1]] == ["model", "step", "device", "batch", "size",
                                                            "precision", "xla", "img/s", "ms/step", "note"]
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in out[2:]]
    assert [(r[5], r[6]) for r in rows] == [("fp32", "off"), ("amp", "off"), ("fp32", "on"), ("amp", "on")]
    for r in rows:  # img/s = batch / (ms/step / 1000), up to the printed rounding
        assert float(r[7]) > 0 and float(r[7]) * float(r[8]) / 1000 == pytest.approx(2, rel=0.1)
    for bad, message in [(["--gpu", "9"], "error: --gpu 9: GPU 9 does not exist"),
                         (["--step", "nope"], "error: --step nope: unknown step"),
                         (["--batch", "0"], "error: --batch 0: must be positive"),
                         (["--model", "nonet"], "error: --model nonet: unknown backbone 'nonet'")]:
        assert step.main(flags + bad) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(message)
