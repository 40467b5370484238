"""The shipped TSPulse weights (models/pretrained/tspulse.*, made by `python -m recipes.series.tspulse.train`):
they load, and zero-shot they impute and localise anomalies better than simple fills and than the
same network untrained. Fixtures are synthetic with fixed seeds."""

import math

import numpy as np
import pytest
import torch

from tfsignal import models, weights

LENGTH = 512


@pytest.fixture(scope="module")
def pretrained():
    torch.set_num_threads(1)
    return models.load("tspulse")


@pytest.fixture(scope="module")
def untrained(pretrained):
    torch.manual_seed(0)
    return type(pretrained)(pretrained.config).eval()


def sine_with_trend(n: int, seed: int) -> torch.Tensor:
    """(n, LENGTH, 1) z-scored sines (periods 16..64 steps) plus a linear trend and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(LENGTH)
    rows = []
    for _ in range(n):
        period, phase, slope = rng.uniform(16, 64), rng.uniform(0, 2 * math.pi), rng.uniform(-2, 2)
        x = np.sin(2 * math.pi * t / period + phase) + slope * t / LENGTH + 0.05 * rng.standard_normal(LENGTH)
        rows.append((x - x.mean()) / x.std())
    return torch.tensor(np.stack(rows), dtype=torch.float32)[..., None]


def test_shipped_weights_load_with_their_training_summary(pretrained):
    assert sum(p.numel() for p in pretrained.parameters()) == 1_042_330
    assert pretrained.config.seq_len == LENGTH and pretrained.config.patch_len == 8
    assert not pretrained.training
    assert weights.config("tspulse")["training"]["steps"] > 0
    assert weights.config("tspulse")["command"].startswith("python -m recipes.series.tspulse.train")


def test_zero_shot_imputation_beats_mean_fill_and_the_untrained_model(pretrained, untrained):
    x = sine_with_trend(8, seed=0)
    missing = pretrained.make_mask(8, "hybrid", 0.25, generator=torch.Generator().manual_seed(0))  # (8, LENGTH)
    target = x[missing]

    def mse(filled):
        return ((filled[missing] - target) ** 2).mean().item()

    observed_mean = (x * ~missing[..., None]).sum(1, keepdim=True) / (~missing).sum(1)[:, None, None]
    mean_mse = mse(observed_mean.expand_as(x))
    trained_mse = mse(pretrained.impute(x, missing))
    assert trained_mse < 0.35 * mean_mse
    assert trained_mse < 0.5 * mse(untrained.impute(x, missing))


def test_anomaly_score_peaks_inside_a_planted_shape_change(pretrained, untrained):
    # A periodic series with one anomaly that is no spike: a level shift of a segment, a change of
    # frequency, a change of amplitude. The highest score must fall inside the anomaly (+- 4 steps),
    # by a wider margin over the rest of the series than the untrained network gives.
    rng = np.random.default_rng(1)
    t = np.arange(LENGTH)
    period, start, stop = 32, 300, 332
    base = np.sin(2 * math.pi * t / period)
    shifted, faster, louder = base.copy(), base.copy(), base.copy()
    shifted[start:stop] += 1.5
    faster[start:stop] = np.sin(2 * math.pi * t[start:stop] / (period / 3) + 2 * math.pi * start / period)
    louder[start:stop] *= 2.5
    series = np.stack([shifted, faster, louder]) + 0.05 * rng.standard_normal((3, LENGTH))
    x = torch.tensor(series, dtype=torch.float32)[..., None]  # (3, LENGTH, 1)
    inside = torch.zeros(LENGTH, dtype=torch.bool)
    inside[start - 4 : stop + 4] = True

    def margin(model):  # (3,) best score inside the anomaly minus best score elsewhere
        score = model.anomaly_score(x)  # (3, LENGTH)
        return score[:, inside].amax(1) - score[:, ~inside].amax(1)

    trained_margin = margin(pretrained)
    assert (trained_margin > 0).all(), trained_margin.tolist()
    assert (trained_margin > margin(untrained)).all()
