"""Simulated EEG and MEG with known structure, for tests, examples and recipes when no recording is at hand.

numpy only. Every generator takes a ``seed`` and returns the same array for the same arguments.

- ``simulate_eeg``: scalp EEG in volts (background about 10 µV rms): a 1/f^beta background per
  channel (beta drawn in [1, 2], flattened below 1 Hz), spatially blurred so that neighbouring
  channels correlate; intermittent 8-12 Hz alpha bursts strongest over the "posterior" channels;
  sparse spike-and-slow-wave transients on a few neighbouring channels.
- ``simulate_meg``: resting source-space MEG in the layout of Cam-CAN parcel time courses (52
  parcels, 250 Hz; MEG-GPT's training data), in arbitrary units (background std about 1). A hidden
  Markov chain over ``n_states`` states with ``lifetime_s`` (100 ms) mean lifetimes switches on
  network-specific bursts: each state has one band (alpha, beta, theta, in turn) and its own parcel
  loadings, on top of a 1/f background per parcel. This is the generative picture behind HMM
  analyses of rest MEG (transient spectrally specific networks), not a fit to real data.

- ``synthetic_series``: one univariate series with known structure (periodic waves, a trend, level
  shifts and coloured noise), drawn from a caller's ``numpy`` generator; TSPulse pre-trains on them.

Channels and parcels sit on a ring: "neighbours" and "networks" are arcs of it. The geometry is a
device for smooth spatial correlation, not a head model.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["simulate_eeg", "simulate_meg", "synthetic_series"]

EEG_SCALE = 1e-5  # volts: background rms per channel
MEG_BANDS = ((8.0, 12.0), (15.0, 25.0), (4.0, 7.0))  # alpha, beta, theta: the bands of successive states


def _n_samples(duration_s: float, sfreq: float) -> int:
    if sfreq <= 0:
        raise ValueError(f"sfreq must be positive, got {sfreq}")
    n = int(round(duration_s * sfreq))
    if n < 2:
        raise ValueError(f"duration_s * sfreq must give at least 2 samples, got {duration_s} s at {sfreq} Hz")
    return n


def _unit_std(x: np.ndarray) -> np.ndarray:
    return x / x.std(axis=-1, keepdims=True)


def _shaped_noise(rng: np.random.Generator, n_series: int, n_samples: int, gain: np.ndarray) -> np.ndarray:
    """(n_series, n_samples) Gaussian noise whose amplitude spectrum is ``gain`` (n_series or 1, F), unit std."""
    shape = (n_series, n_samples // 2 + 1)
    spectrum = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return _unit_std(np.fft.irfft(spectrum * gain, n=n_samples))


def _one_over_f(rng: np.random.Generator, n_series: int, n_samples: int, sfreq: float, exponents: np.ndarray):
    """(n_series, n_samples) noise with power ~ 1 / (f^2 + 1 Hz^2)^(beta / 2): 1/f^beta above 1 Hz, flat below."""
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sfreq)
    gain = (freqs[None] ** 2 + 1.0) ** (-exponents[:, None] / 4)  # amplitude = sqrt(power)
    gain[:, 0] = 0.0  # no DC offset
    return _shaped_noise(rng, n_series, n_samples, gain)


def _narrowband(rng: np.random.Generator, n_samples: int, sfreq: float, centre: float, width: float) -> np.ndarray:
    """(n_samples,) Gaussian noise in a Gaussian band (``centre`` Hz, standard deviation ``width`` Hz), unit std:
    an oscillation whose amplitude and phase wander over about 1 / width seconds."""
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sfreq)
    return _shaped_noise(rng, 1, n_samples, np.exp(-0.5 * ((freqs - centre) / width) ** 2)[None])[0]


def _ring(n: int) -> np.ndarray:
    """(n,) angles of n points spread evenly on a ring."""
    return 2 * np.pi * np.arange(n) / n


def _arc_distance(angles: np.ndarray, centre: float) -> np.ndarray:
    return np.abs(np.angle(np.exp(1j * (angles - centre))))


def _blur(angles: np.ndarray, width: float) -> np.ndarray:
    """(n, n) spatial mixing: each row a Gaussian of the arc distance (``width`` radians), unit norm rows."""
    distance = _arc_distance(angles[:, None], angles[None, :])
    mixing = np.exp(-0.5 * (distance / width) ** 2)
    return mixing / np.linalg.norm(mixing, axis=1, keepdims=True)


def _bursts(rng: np.random.Generator, n_samples: int, sfreq: float, rate: float, duration: tuple[float, float]):
    """(n_samples,) envelope in [0, 1]: Hann-shaped bursts starting as a Poisson process (``rate`` per second),
    each lasting a uniform draw from ``duration`` seconds."""
    envelope = np.zeros(n_samples)
    for _ in range(rng.poisson(rate * n_samples / sfreq)):
        length = max(int(rng.uniform(*duration) * sfreq), 2)
        start = int(rng.integers(-length // 2, n_samples))
        window = np.hanning(length)
        lo, hi = max(start, 0), min(start + length, n_samples)
        if hi > lo:
            envelope[lo:hi] = np.maximum(envelope[lo:hi], window[lo - start : hi - start])
    return envelope


def simulate_eeg(
    n_channels: int = 19,
    duration_s: float = 60.0,
    sfreq: float = 200.0,
    seed: int = 0,
    alpha: bool = True,
    spikes: bool = True,
) -> np.ndarray:
    """Simulated scalp EEG (n_channels, n_samples) in volts (~1e-5).

    Background: per channel 1/f^beta noise (beta uniform in [1, 2], flat below 1 Hz) blurred across
    neighbouring channels (width 0.4 rad on the ring), scaled to 10 µV rms. ``alpha``: one 9-11 Hz
    rhythm (band standard deviation 1 Hz) in Hann-shaped bursts of 0.5-2 s starting 0.5 times per
    second, loaded most on the channels opposite channel 0 ("posterior"; 1.5x the background rms
    there, 0.15x at channel 0). ``spikes``: one spike-and-slow-wave every 10 s on average (a sharp
    15 ms peak, then a 60 ms slow wave of opposite sign 100 ms later), 6x the background rms, random
    polarity, on a random arc of channels.
    """
    if n_channels < 1:
        raise ValueError(f"n_channels must be positive, got {n_channels}")
    n = _n_samples(duration_s, sfreq)
    rng = np.random.default_rng(seed)
    angles = _ring(n_channels)
    sources = _one_over_f(rng, n_channels, n, sfreq, rng.uniform(1.0, 2.0, n_channels))
    x = _unit_std(_blur(angles, 0.4) @ sources)  # (C, T)
    if alpha:
        rhythm = _narrowband(rng, n, sfreq, rng.uniform(9.0, 11.0), 1.0)
        envelope = _bursts(rng, n, sfreq, rate=0.5, duration=(0.5, 2.0))
        loading = 0.15 + 1.35 * np.exp(-0.5 * (_arc_distance(angles, np.pi) / 0.8) ** 2)  # (C,)
        x += loading[:, None] * (envelope * rhythm)[None]
    if spikes:
        t = np.arange(int(0.4 * sfreq)) / sfreq
        waveform = np.exp(-0.5 * (t - 0.05) ** 2 / 0.015**2) - 0.35 * np.exp(-0.5 * (t - 0.15) ** 2 / 0.06**2)
        for _ in range(rng.poisson(duration_s / 10.0)):
            start = int(rng.integers(0, max(n - len(t), 1)))
            loading = np.exp(-0.5 * (_arc_distance(angles, rng.uniform(0, 2 * np.pi)) / 0.3) ** 2)
            piece = rng.choice([-6.0, 6.0]) * loading[:, None] * waveform[None, : n - start]
            x[:, start : start + piece.shape[1]] += piece
    return EEG_SCALE * x


def simulate_meg(
    n_parcels: int = 52,
    duration_s: float = 300.0,
    sfreq: float = 250.0,
    seed: int = 0,
    n_states: int = 6,
    lifetime_s: float = 0.1,
    return_states: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Simulated resting MEG parcel time courses (n_parcels, n_samples), background std about 1.

    A Markov chain over ``n_states`` states (geometric lifetimes of mean ``lifetime_s``, the next
    state drawn uniformly among the others) gates, per state, one bursting oscillation: state k
    oscillates in band ``MEG_BANDS[k % 3]`` (alpha, beta, theta; centre drawn inside the band, band
    standard deviation 1.5 Hz), loaded on an arc of parcels (random centre, width 0.3-0.6 rad, peak
    2-3x the background std). The gates switch with 20 ms Hann ramps. Background: 1/f^beta noise per
    parcel (beta uniform in [1, 2], flat below 1 Hz), lightly blurred across neighbours (0.15 rad).

    With ``return_states`` also returns the state of every sample, (n_samples,) int.
    """
    if n_parcels < 1 or n_states < 1:
        raise ValueError(f"n_parcels and n_states must be positive, got {n_parcels} and {n_states}")
    if lifetime_s <= 0:
        raise ValueError(f"lifetime_s must be positive, got {lifetime_s}")
    n = _n_samples(duration_s, sfreq)
    rng = np.random.default_rng(seed)
    angles = _ring(n_parcels)

    mean_length = max(lifetime_s * sfreq, 1.0)  # in samples
    n_visits = int(2 * n / mean_length) + 16  # more than enough visits to cover n samples
    lengths = rng.geometric(1.0 / mean_length, size=n_visits)
    while lengths.sum() < n:
        lengths = np.concatenate([lengths, rng.geometric(1.0 / mean_length, size=n_visits)])
    steps = rng.integers(1, max(n_states, 2), size=len(lengths))  # never the same state twice in a row
    visits = (int(rng.integers(n_states)) + np.concatenate([[0], np.cumsum(steps[1:])])) % n_states
    states = np.repeat(visits, lengths)[:n]  # (T,)

    background = _one_over_f(rng, n_parcels, n, sfreq, rng.uniform(1.0, 2.0, n_parcels))
    x = _unit_std(_blur(angles, 0.15) @ background)  # (P, T)
    ramp = np.hanning(max(int(0.02 * sfreq), 1) + 2)[1:-1]
    ramp /= ramp.sum()
    for k in range(n_states):
        low, high = MEG_BANDS[k % len(MEG_BANDS)]
        rhythm = _narrowband(rng, n, sfreq, rng.uniform(low, high), 1.5)
        gate = np.convolve((states == k).astype(np.float64), ramp, mode="same")
        centre, width, peak = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 0.6), rng.uniform(2.0, 3.0)
        loading = peak * np.exp(-0.5 * (_arc_distance(angles, centre) / width) ** 2)  # (P,)
        x += loading[:, None] * (gate * rhythm)[None]
    return (x, states) if return_states else x


def synthetic_series(rng: np.random.Generator, length: int = 512) -> np.ndarray:
    """(length,) series: 0-3 periodic waves + a trend + level shifts + noise + an offset.

    Waves are sine, square, sawtooth or triangle with log-uniform periods (4 steps to half the
    length), random phases and amplitudes; the trend is none, linear or exponential; level shifts
    come at Poisson(0.5) random places; the noise is white, AR(1) (unit stationary variance) or a
    random walk, with a log-uniform scale. Each call draws from ``rng``, so a seeded generator gives
    a reproducible stream of series.
    """
    from scipy.signal import lfilter

    t = np.arange(length, dtype=np.float64)
    x = np.zeros(length)
    for _ in range(rng.integers(0, 4)):  # 0..3 periodic components
        period = math.exp(rng.uniform(math.log(4), math.log(length / 2)))
        cycle = t / period + rng.uniform()  # in cycles, random phase
        shape = rng.choice(["sine", "square", "sawtooth", "triangle"], p=[0.6, 0.15, 0.15, 0.1])
        if shape == "sine":
            wave = np.sin(2 * np.pi * cycle)
        elif shape == "square":
            wave = np.sign(np.sin(2 * np.pi * cycle))
        elif shape == "sawtooth":
            wave = 2 * (cycle % 1) - 1
        else:
            wave = 2 * np.abs(2 * (cycle % 1) - 1) - 1
        x += math.exp(rng.uniform(math.log(0.1), math.log(2))) * wave
    trend = rng.choice(["none", "linear", "exponential"], p=[0.4, 0.4, 0.2])
    if trend == "linear":
        x += rng.uniform(-3, 3) * t / length
    elif trend == "exponential":
        rate = rng.uniform(1, 5)
        x += rng.choice([-1, 1]) * rng.uniform(0.5, 3) * np.expm1(rate * t / length) / math.expm1(rate)
    for position in rng.integers(1, length, size=rng.poisson(0.5)):  # level shifts
        x[position:] += rng.normal(0, 1.5)
    noise_scale = math.exp(rng.uniform(math.log(0.01), math.log(1)))
    white = rng.standard_normal(length)
    noise = rng.choice(["white", "ar1", "random_walk"], p=[0.4, 0.4, 0.2])
    if noise == "ar1":
        phi = rng.uniform(0.5, 0.99)
        white = lfilter([math.sqrt(1 - phi**2)], [1, -phi], white)  # unit stationary variance
    elif noise == "random_walk":
        white = 0.1 * np.cumsum(white)
    return x + noise_scale * white + rng.normal(0, 2)  # random offset too
