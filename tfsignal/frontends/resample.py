"""Band-limited resampling by a rational factor (polyphase FIR designed with a Kaiser window).

Rates are in Hz and may be fractional (an EEG amplifier's 250.3 Hz, a token rate): whole-number
rates resample by their exact ratio, others by the nearest fraction with a denominator of at most
:data:`MAX_DENOMINATOR`. Ratios whose up or down factor exceeds :data:`MAX_FACTOR` (a rate like
2**31 - 1 Hz from a damaged header) raise ValueError instead of designing a filter that does not fit
in memory.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy.signal import firwin, kaiserord, resample_poly

STOPBAND_DB = 120.0  # rejection of everything above the new Nyquist frequency
PASSBAND = 0.9  # flat up to this fraction of the lower Nyquist frequency
MAX_DENOMINATOR = 1000  # largest up/down factor used to approximate a ratio of fractional rates
MAX_FACTOR = 10_000  # larger up/down factors (a damaged header's rate) need filters of millions of taps


@lru_cache(maxsize=32)
def _lowpass(up: int, down: int) -> np.ndarray:
    """Anti-aliasing filter at the upsampled rate: flat to PASSBAND, -STOPBAND_DB at Nyquist."""
    nyquist = 1.0 / max(up, down)  # lower Nyquist as a fraction of the upsampled Nyquist
    width = (1 - PASSBAND) * nyquist
    n_taps, beta = kaiserord(STOPBAND_DB, width)
    n_taps |= 1  # odd length: symmetric, integer group delay
    return firwin(n_taps, nyquist - width / 2, window=("kaiser", beta))  # resample_poly scales by up


def resample(x: np.ndarray, orig_sr: float, target_sr: float, axis: int = -1) -> np.ndarray:
    """Resample ``x`` along ``axis`` from ``orig_sr`` to ``target_sr`` Hz.

    Polyphase filtering (``scipy.signal.resample_poly``) with a Kaiser-window FIR that is flat up
    to 90 % of the lower Nyquist frequency; aliases are rejected by ~90 dB or more. Returns ``x``
    itself when the rates are equal, else float32 for float32 input and float64 otherwise.
    """
    if not (orig_sr > 0 and target_sr > 0):
        raise ValueError(f"sampling rates must be positive, got {orig_sr} -> {target_sr}")
    up, down = _ratio(orig_sr, target_sr)
    if up == down:
        return x
    y = resample_poly(x, up, down, axis=axis, window=_lowpass(up, down))
    return y.astype(np.float32 if x.dtype == np.float32 else np.float64, copy=False)


def _ratio(orig_sr: float, target_sr: float) -> tuple[int, int]:
    """``(up, down)``: ``target_sr / orig_sr`` as a fraction in lowest terms (see the module docstring)."""
    if float(orig_sr).is_integer() and float(target_sr).is_integer():
        orig_sr, target_sr = int(orig_sr), int(target_sr)
        g = math.gcd(orig_sr, target_sr)
        up, down = target_sr // g, orig_sr // g
    else:
        if math.isclose(orig_sr, target_sr):
            return 1, 1
        ratio = Fraction(float(target_sr) / float(orig_sr)).limit_denominator(MAX_DENOMINATOR)
        up, down = ratio.numerator, ratio.denominator
    if 0 in (up, down) or max(up, down) > MAX_FACTOR:
        raise ValueError(f"cannot resample {orig_sr:g} Hz to {target_sr:g} Hz: the ratio {up}/{down} is too extreme")
    return up, down


def resampled_length(n: int, orig_sr: float, target_sr: float) -> int:
    """Number of samples :func:`resample` returns for ``n`` input samples."""
    up, down = _ratio(orig_sr, target_sr)
    return -(-n * up // down)


def span_input(start: int, stop: int, n: int, orig_sr: float, target_sr: float) -> tuple[int, int]:
    """The input samples ``[i0, i1)`` that samples ``[start, stop)`` of ``resample(x)`` depend on
    (``x`` has ``n`` samples); ``i0`` is a multiple of the decimation factor, so a block read from
    there resamples onto the same output grid as the whole signal."""
    up, down = _ratio(orig_sr, target_sr)
    if up == down:
        return start, stop
    reach = -(-(len(_lowpass(up, down)) - 1) // 2 // up) + 2  # half the filter, in input samples
    first = max(0, (start * down // up - reach) // down)  # block index: the block starts at first * down
    return first * down, min(n, -(-stop * down // up) + reach)


def resample_span(read, n: int, orig_sr: float, target_sr: float, start: int, stop: int) -> np.ndarray:
    """Samples ``[start, stop)`` (along the last axis) of ``resample(x, orig_sr, target_sr)``, reading
    only the part of ``x`` they depend on.

    ``read(i0, i1)`` returns ``x[..., i0:i1]`` of the ``n``-sample signal ``x``, which never has to be
    in memory whole: a long file can be resampled block by block, with the same output samples as
    one call on all of it (the polyphase filter is shift-equivariant on its decimation grid).
    """
    total = resampled_length(n, orig_sr, target_sr)
    if not 0 <= start <= stop <= total:
        raise ValueError(f"span [{start}, {stop}) outside the {total} resampled samples")
    i0, i1 = span_input(start, stop, n, orig_sr, target_sr)
    up, down = _ratio(orig_sr, target_sr)
    if up == down:
        return read(start, stop)
    offset = i0 // down * up  # output index of the block's first resampled sample
    return resample(read(i0, i1), orig_sr, target_sr)[..., start - offset : stop - offset]
