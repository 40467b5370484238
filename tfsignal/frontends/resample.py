"""Band-limited resampling by a rational factor (polyphase FIR designed with a Kaiser window)."""

from __future__ import annotations

from functools import lru_cache
from math import gcd

import numpy as np
from scipy.signal import firwin, kaiserord, resample_poly

STOPBAND_DB = 120.0  # rejection of everything above the new Nyquist frequency
PASSBAND = 0.9  # flat up to this fraction of the lower Nyquist frequency


@lru_cache(maxsize=32)
def _lowpass(up: int, down: int) -> np.ndarray:
    """Anti-aliasing filter at the upsampled rate: flat to PASSBAND, -STOPBAND_DB at Nyquist."""
    nyquist = 1.0 / max(up, down)  # lower Nyquist as a fraction of the upsampled Nyquist
    width = (1 - PASSBAND) * nyquist
    n_taps, beta = kaiserord(STOPBAND_DB, width)
    n_taps |= 1  # odd length: symmetric, integer group delay
    return firwin(n_taps, nyquist - width / 2, window=("kaiser", beta))  # resample_poly scales by up


def resample(x: np.ndarray, orig_sr: int, target_sr: int, axis: int = -1) -> np.ndarray:
    """Resample ``x`` along ``axis`` from ``orig_sr`` to ``target_sr`` Hz.

    Polyphase filtering (``scipy.signal.resample_poly``) with a Kaiser-window FIR that is flat up
    to 90 % of the lower Nyquist frequency; aliases are rejected by ~90 dB or more. Returns float32 for
    float32 input, float64 otherwise.
    """
    orig_sr, target_sr = int(orig_sr), int(target_sr)
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sampling rates must be positive, got {orig_sr} -> {target_sr}")
    if orig_sr == target_sr:
        return x
    g = gcd(orig_sr, target_sr)
    up, down = target_sr // g, orig_sr // g
    y = resample_poly(x, up, down, axis=axis, window=_lowpass(up, down))
    return y.astype(np.float32 if x.dtype == np.float32 else np.float64, copy=False)
