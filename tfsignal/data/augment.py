"""Random degradations of speech for training: EQ, reverberation, band limit, gain and clipping.

:class:`Augment` draws them from the generator a dataset passes in (so an item stays a pure
function of its seed); :func:`room_impulse_response` is the synthetic room it reverberates with.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, fftconvolve, lfilter, sosfiltfilt

__all__ = ["Augment", "room_impulse_response"]


def _peaking(f0: float, gain_db: float, q: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Peaking-EQ biquad (R. Bristow-Johnson's audio EQ cookbook): ``gain_db`` at ``f0``, width set by ``q``."""
    a_gain, w0 = 10 ** (gain_db / 40), 2 * np.pi * f0 / sample_rate
    alpha, cos_w0 = np.sin(w0) / (2 * q), np.cos(w0)
    b = np.array([1 + alpha * a_gain, -2 * cos_w0, 1 - alpha * a_gain])
    a = np.array([1 + alpha / a_gain, -2 * cos_w0, 1 - alpha / a_gain])
    return b / a[0], a / a[0]


def _shelf(high: bool, f0: float, gain_db: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Low- or high-shelf biquad (audio EQ cookbook, slope 1): ``gain_db`` below / above ``f0``."""
    a_gain, w0 = 10 ** (gain_db / 40), 2 * np.pi * f0 / sample_rate
    cos_w0, two_sqrt_a_alpha = np.cos(w0), np.sqrt(a_gain) * np.sin(w0) * np.sqrt(2)
    sign = -1.0 if high else 1.0  # folds the cookbook's low- and high-shelf formulas into one
    b = a_gain * np.array(
        [
            (a_gain + 1) - sign * (a_gain - 1) * cos_w0 + two_sqrt_a_alpha,
            sign * 2 * ((a_gain - 1) - sign * (a_gain + 1) * cos_w0),
            (a_gain + 1) - sign * (a_gain - 1) * cos_w0 - two_sqrt_a_alpha,
        ]
    )
    a = np.array(
        [
            (a_gain + 1) + sign * (a_gain - 1) * cos_w0 + two_sqrt_a_alpha,
            -sign * 2 * ((a_gain - 1) + sign * (a_gain + 1) * cos_w0),
            (a_gain + 1) + sign * (a_gain - 1) * cos_w0 - two_sqrt_a_alpha,
        ]
    )
    return b / a[0], a / a[0]


def room_impulse_response(rng: np.random.Generator, sample_rate: int, rt60: float, drr_db: float) -> np.ndarray:
    """Synthetic room impulse response: a unit direct path at sample 0 plus exponentially decaying noise.

    The tail's amplitude falls by 60 dB over ``rt60`` seconds (its length) and its energy sits
    ``drr_db`` below the direct path's (the direct-to-reverberant ratio).
    """
    n = max(2, round(rt60 * sample_rate))
    t = np.arange(n) / sample_rate
    h = rng.standard_normal(n) * np.exp(-3 * np.log(10) * t / rt60)  # 10**-3 = -60 dB at t = rt60
    h[0] = 0.0
    h *= 10 ** (-drr_db / 20) / np.sqrt(np.sum(h**2))
    h[0] = 1.0
    return h


class Augment:
    """Random degradations for :class:`MixingDataset`, drawn from the generator it passes in.

    Speech stage (:meth:`speech`, before mixing, so the SNR is set on what the microphone hears):

    - EQ (``eq_prob``): one peaking biquad (200 Hz-4 kHz, +-6 dB, Q 0.7-2) and one low shelf
      (100-400 Hz) or high shelf (2-5 kHz), +-6 dB. Stands for microphone and voice colouration, so
      the target is EQ'd too: the model is not asked to undo timbre.
    - Reverb (``reverb_prob``): :func:`room_impulse_response` with RT60 0.2-0.8 s and a
      direct-to-reverberant ratio of -3 to 9 dB. The input gets the full reverberant speech; the
      target keeps the direct path and the first 50 ms (early reflections help intelligibility and
      are part of the voice; late reverberation is treated as noise, as in DNS-Challenge targets).
      With ``reverb_target_prob`` the target is instead the whole reverberant speech for that share
      of reverberant items (the model then removes noise only, as GTCRN's author trains it).

    Mixture stage (:meth:`mixture`, after mixing and level setting):

    - Band limit (``band_limit_prob``): 8th-order Butterworth low-pass run forward and backward
      (zero phase, so nothing shifts) near 4, 5.5 or 8 kHz (+-10 %; only cut-offs below 90 % of
      Nyquist), applied to input AND target, as a narrow-band channel would: the model learns to
      keep the band, not to invent the missing one.
    - Gain (``gain_db``): one random gain on input and target together, widening the level range
      so the model does not rely on absolute level.
    - Clipping (``clip_prob``): input only, at 30-80 % of its peak, standing for an overdriven
      recorder; the target stays unclipped so the model learns to repair it.
    """

    EQ_GAIN_DB = 6.0
    RT60_SECONDS = (0.2, 0.8)
    DRR_DB = (-3.0, 9.0)
    EARLY_SECONDS = 0.05
    CUTOFFS_HZ = (4000.0, 5500.0, 8000.0)
    CLIP_FRACTION = (0.3, 0.8)

    def __init__(
        self,
        gain_db: tuple[float, float] = (-10.0, 10.0),
        eq_prob: float = 0.5,
        reverb_prob: float = 0.3,
        band_limit_prob: float = 0.2,
        clip_prob: float = 0.1,
        reverb_target_prob: float = 0.0,
    ) -> None:
        self.gain_db = gain_db
        self.reverb_target_prob = reverb_target_prob
        self.eq_prob = eq_prob
        self.reverb_prob = reverb_prob
        self.band_limit_prob = band_limit_prob
        self.clip_prob = clip_prob

    def __repr__(self) -> str:
        return (
            f"Augment(gain_db={self.gain_db}, eq_prob={self.eq_prob}, reverb_prob={self.reverb_prob}, "
            f"band_limit_prob={self.band_limit_prob}, clip_prob={self.clip_prob}, "
            f"reverb_target_prob={self.reverb_target_prob})"
        )

    def eq(self, x: np.ndarray, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
        """``x`` through a random peaking biquad and a random low or high shelf."""
        g = self.EQ_GAIN_DB
        f0 = min(np.exp(rng.uniform(np.log(200), np.log(4000))), 0.4 * sample_rate)
        b, a = _peaking(f0, rng.uniform(-g, g), rng.uniform(0.7, 2.0), sample_rate)
        y = lfilter(b, a, x)
        if rng.random() < 0.5:
            b, a = _shelf(False, rng.uniform(100, 400), rng.uniform(-g, g), sample_rate)
        else:
            f0 = min(rng.uniform(2000, 5000), 0.4 * sample_rate)
            b, a = _shelf(True, f0, rng.uniform(-g, g), sample_rate)
        return lfilter(b, a, y).astype(np.float32)

    def reverb(self, x: np.ndarray, rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """``(reverberant, target)``: ``x`` through a random room, and through its first 50 ms only."""
        h = room_impulse_response(rng, sample_rate, rng.uniform(*self.RT60_SECONDS), rng.uniform(*self.DRR_DB))
        early = h[: round(self.EARLY_SECONDS * sample_rate) + 1]
        reverberant = fftconvolve(x, h)[: len(x)]
        target = fftconvolve(x, early)[: len(x)]
        return reverberant.astype(np.float32), target.astype(np.float32)

    def speech(self, x: np.ndarray, rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """``(input speech, target speech)`` after random EQ and reverb."""
        if rng.random() < self.eq_prob:
            x = self.eq(x, rng, sample_rate)
        if rng.random() < self.reverb_prob:
            reverberant, early = self.reverb(x, rng, sample_rate)
            # drawn only when asked for, so with reverb_target_prob 0 the other draws stay the same
            keep_all = self.reverb_target_prob > 0 and rng.random() < self.reverb_target_prob
            return reverberant, reverberant if keep_all else early
        return x, x

    def mixture(
        self, noisy: np.ndarray, target: np.ndarray, rng: np.random.Generator, sample_rate: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(noisy, target)`` after random band limit (both), gain (both) and clipping (noisy only)."""
        if rng.random() < self.band_limit_prob:
            cutoffs = [c for c in self.CUTOFFS_HZ if c < 0.9 * sample_rate / 2]
            if cutoffs:
                cutoff = cutoffs[rng.integers(len(cutoffs))] * rng.uniform(0.9, 1.1)
                sos = butter(8, min(cutoff, 0.95 * sample_rate / 2), fs=sample_rate, output="sos")
                noisy = sosfiltfilt(sos, noisy).astype(np.float32)
                target = sosfiltfilt(sos, target).astype(np.float32)
        gain = np.float32(10 ** (rng.uniform(*self.gain_db) / 20))
        noisy, target = noisy * gain, target * gain
        if rng.random() < self.clip_prob:
            threshold = rng.uniform(*self.CLIP_FRACTION) * np.abs(noisy).max()
            noisy = np.clip(noisy, -threshold, threshold)
        return noisy, target
