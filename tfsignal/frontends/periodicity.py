"""FFT periodicity front end (TimesNet / MPTSNet): dominant periods and 2-D folding by period."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def top_k_periods(x: Tensor | np.ndarray, k: int) -> tuple[list[int], Tensor]:
    """The ``k`` dominant periods of a batch of series and each sample's amplitude at them.

    ``x`` is (batch, time, channels). The amplitude spectrum is averaged over the batch and the
    channels; DC (bin 0) and the one-cycle bin (bin 1, period = whole series) are dropped; bins are
    ranked by amplitude and turned into periods ``round(time / bin)``, keeping the first ``k``
    distinct ones. Returns ``(periods, amplitudes)`` with ``periods`` a list of ints (strongest
    first; fewer than ``k`` when the series is too short to hold ``k`` distinct periods) and
    ``amplitudes`` (batch, len(periods)).
    """
    x = torch.as_tensor(x)
    if x.dim() != 3:
        raise ValueError(f"top_k_periods expects (batch, time, channels), got shape {tuple(x.shape)}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    length = x.shape[1]
    spectrum = torch.fft.rfft(x.float(), dim=1).abs()  # (B, F, C)
    mean_amplitude = spectrum.mean(dim=(0, 2))  # (F,)
    if mean_amplitude.numel() <= 2:
        raise ValueError(f"a series of {length} samples is too short to have a period")
    mean_amplitude[:2] = 0
    periods: list[int] = []
    bins: list[int] = []
    for f in torch.argsort(mean_amplitude[2:], descending=True).tolist():
        period = max(1, round(length / (f + 2)))
        if period not in periods:
            periods.append(period)
            bins.append(f + 2)
        if len(periods) == k:
            break
    amplitudes = spectrum.mean(dim=-1)[:, bins]  # (B, k)
    return periods, amplitudes


def fold(x: Tensor, period: int) -> Tensor:
    """(batch, time, channels) -> (batch, channels, n_segments, period), zero-padded at the end."""
    batch, length, channels = x.shape
    n_segments = -(-length // period)
    x = F.pad(x, (0, 0, 0, n_segments * period - length))  # (B, n*p, C)
    return x.reshape(batch, n_segments, period, channels).permute(0, 3, 1, 2)


def unfold(y: Tensor, length: int) -> Tensor:
    """Inverse of :func:`fold`: (batch, channels, n_segments, period) -> (batch, length, channels)."""
    batch, channels, n_segments, period = y.shape
    if length > n_segments * period:
        raise ValueError(f"length {length} exceeds the {n_segments * period} folded samples")
    return y.permute(0, 2, 3, 1).reshape(batch, n_segments * period, channels)[:, :length]
