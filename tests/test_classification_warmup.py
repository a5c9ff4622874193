"""``warmup_epochs`` drives the classification seed's rate (the release's value, 1, unchanged): the warm-up lasts
that many epochs and the cosine then reaches its floor exactly at the end of the run, for 0, 1 and 2."""
import numpy as np
import pytest

from classification.schedule import SeedLearningRate, seed_learning_rate, seed_schedule_args
from classification.train import schedule

SPE, EPOCHS, PEAK, START, ALPHA = 10, 3, 0.05, 1e-4, 1e-4


def _numpy_rate(step, warmup_epochs):
    """Linear from START to PEAK over ``warmup_epochs`` epochs, then Keras' cosine over EPOCHS epochs."""
    warm = warmup_epochs * SPE
    if step < warm:
        return START + (PEAK - START) * step / warm
    t = min(step - warm, EPOCHS * SPE) / (EPOCHS * SPE)
    return PEAK * ((1 - ALPHA) * 0.5 * (1 + np.cos(np.pi * t)) + ALPHA)


@pytest.mark.parametrize("warmup_epochs", [0, 1, 2])
def test_warmup_epochs_drive_the_rate(warmup_epochs):
    kw = dict(epochs=EPOCHS, peak=PEAK, warmup_start=START, alpha=ALPHA, warmup_epochs=warmup_epochs)
    total = (warmup_epochs + EPOCHS) * SPE  # the run's steps: warmup_epochs + epochs epochs
    for step in range(total + 1):
        assert seed_learning_rate(step, SPE, **kw) == pytest.approx(_numpy_rate(step, warmup_epochs), rel=1e-12)
    assert seed_learning_rate(total, SPE, **kw) == pytest.approx(PEAK * ALPHA)  # the floor, at the run's end
    assert seed_learning_rate(total - 1, SPE, **kw) > PEAK * ALPHA * 1.001  # not before
    if warmup_epochs:
        assert seed_learning_rate(warmup_epochs * SPE, SPE, **kw) == pytest.approx(PEAK)


def test_the_release_s_single_warmup_epoch_is_unchanged():
    for step in (0, 5, 10, 11, 25, 40):
        assert seed_learning_rate(step, SPE, EPOCHS) == seed_learning_rate(step, SPE, EPOCHS, warmup_epochs=1)


@pytest.mark.parametrize("warmup_epochs", [0, 2])
def test_the_config_key_reaches_the_schedule_object(warmup_epochs):
    cfg = {"lr_schedule": "cosine", "epochs": EPOCHS, "peak_lr": PEAK, "warmup_lr": START, "cosine_alpha": ALPHA,
           "warmup_epochs": warmup_epochs}
    assert seed_schedule_args(cfg)["warmup_epochs"] == warmup_epochs
    epochs, rate = schedule(cfg, 256, SPE)
    assert epochs == warmup_epochs + EPOCHS and isinstance(rate, SeedLearningRate)
    assert [rate.value(s) for s in range(epochs * SPE + 1)] == pytest.approx(
        [_numpy_rate(s, warmup_epochs) for s in range(epochs * SPE + 1)], rel=1e-12)
