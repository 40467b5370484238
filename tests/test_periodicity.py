import numpy as np
import pytest
import torch

from tfsignal.frontends import fold, top_k_periods, unfold


def test_planted_periods_are_found():
    rng = np.random.default_rng(0)
    t = np.arange(336)
    batch = []
    for _ in range(8):
        series = (
            2.0 * np.sin(2 * np.pi * t / 24 + rng.uniform(0, 6))[:, None]
            + 1.0 * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 6))[:, None]
            + 0.5 * rng.standard_normal((336, 3))
        )
        batch.append(series)
    periods, amplitudes = top_k_periods(np.stack(batch), k=2)
    assert periods == [24, 7]
    assert amplitudes.shape == (8, 2)
    assert (amplitudes[:, 0] > amplitudes[:, 1]).all()


def test_periods_are_unique_and_skip_dc_and_whole_series():
    rng = np.random.default_rng(1)
    x = torch.as_tensor(5.0 + rng.standard_normal((4, 24, 2)))  # large DC offset
    x += torch.linspace(0, 10, 24)[None, :, None]  # one-cycle trend
    periods, _ = top_k_periods(x, k=5)
    assert len(periods) == len(set(periods)) == 5
    assert 24 not in periods


def test_fold_unfold_round_trip_with_padding():
    x = torch.randn(2, 50, 3)
    y = fold(x, 7)  # 50 -> 8 segments of 7
    assert y.shape == (2, 3, 8, 7)
    assert torch.equal(y[0, 1, 2], x[0, 14:21, 1])
    assert torch.all(y[:, :, -1, 1:] == 0)  # zero padding at the end
    assert torch.equal(unfold(y, 50), x)


def test_bad_shapes():
    with pytest.raises(ValueError, match="batch, time, channels"):
        top_k_periods(np.zeros((10, 3)), 2)
    with pytest.raises(ValueError, match="exceeds"):
        unfold(torch.zeros(1, 1, 2, 3), 7)
