"""Simulated EEG and MEG: shapes, seeds, an alpha peak, and state-switching bursts."""

import time

import numpy as np
import pytest
from scipy.signal import butter, hilbert, sosfiltfilt, welch

from tfsignal.simulate import simulate_eeg, simulate_meg


def band_power(x, sfreq, low, high):
    freqs, psd = welch(x, fs=sfreq, nperseg=int(2 * sfreq), axis=-1)
    return psd[..., (freqs >= low) & (freqs <= high)].mean(-1)


def envelope(x, sfreq, low, high):
    sos = butter(4, [low, high], btype="band", fs=sfreq, output="sos")
    return np.abs(hilbert(sosfiltfilt(sos, x, axis=-1), axis=-1))


def test_eeg_shape_scale_and_seed():
    x = simulate_eeg(n_channels=8, duration_s=10.0, sfreq=128.0, seed=3)
    assert x.shape == (8, 1280) and np.isfinite(x).all()
    assert 3e-6 < x.std() < 3e-5  # tens of microvolts
    assert np.array_equal(x, simulate_eeg(n_channels=8, duration_s=10.0, sfreq=128.0, seed=3))
    assert not np.allclose(x, simulate_eeg(n_channels=8, duration_s=10.0, sfreq=128.0, seed=4))
    corr = np.corrcoef(simulate_eeg(duration_s=20.0, seed=3, alpha=False, spikes=False))  # 19 channels
    assert corr[0, 1] > 0.5  # neighbours share sources
    assert abs(corr[0, 9]) < 0.2  # the far side of the ring does not


def test_eeg_has_an_alpha_peak_only_when_asked():
    sfreq = 200.0
    x = simulate_eeg(duration_s=60.0, sfreq=sfreq, seed=0, spikes=False)
    posterior = x[19 // 2]  # the channel opposite channel 0 carries the most alpha
    alpha = band_power(posterior, sfreq, 8, 12)
    assert alpha > 5 * band_power(posterior, sfreq, 14, 18)
    assert alpha > 2 * band_power(posterior, sfreq, 5, 6.5)  # above the 1/f rise, too
    plain = simulate_eeg(duration_s=60.0, sfreq=sfreq, seed=0, alpha=False, spikes=False)[19 // 2]
    assert band_power(plain, sfreq, 8, 12) < band_power(plain, sfreq, 5, 6.5)  # 1/f only: no peak


def test_eeg_spikes_are_sparse_large_transients():
    quiet = simulate_eeg(duration_s=120.0, seed=5, alpha=False, spikes=False)
    spiky = simulate_eeg(duration_s=120.0, seed=5, alpha=False, spikes=True)
    extra = np.abs(spiky - quiet).max(0)  # (T,) what the spikes added
    assert extra.max() > 4 * quiet.std()
    assert (extra > 0.5 * quiet.std()).mean() < 0.05  # a few percent of the time at most


def test_meg_shape_seed_speed_and_states():
    started = time.perf_counter()
    x, states = simulate_meg(seed=0, return_states=True)
    assert time.perf_counter() - started < 2.0
    assert x.shape == (52, 75_000) and states.shape == (75_000,) and np.isfinite(x).all()
    assert set(np.unique(states)) == set(range(6))
    switches = np.flatnonzero(np.diff(states))
    assert 0.08 < np.diff(switches).mean() / 250 < 0.12  # ~100 ms lifetimes
    small = simulate_meg(n_parcels=5, duration_s=4.0, sfreq=100.0, seed=1, n_states=3)
    assert small.shape == (5, 400)
    assert np.array_equal(small, simulate_meg(n_parcels=5, duration_s=4.0, sfreq=100.0, seed=1, n_states=3))
    with pytest.raises(ValueError, match="n_states"):
        simulate_meg(n_states=0)


def test_meg_alpha_power_switches_with_the_states():
    sfreq = 250.0
    x, states = simulate_meg(duration_s=120.0, seed=2, return_states=True)
    env = envelope(x, sfreq, 8, 12)  # (P, T)
    # a stationary Gaussian process with the same spectra: phase-randomised copies
    rng = np.random.default_rng(0)
    spectrum = np.fft.rfft(x, axis=-1)
    surrogate = np.fft.irfft(np.abs(spectrum) * np.exp(2j * np.pi * rng.random(spectrum.shape)), n=x.shape[1])
    surrogate_env = envelope(surrogate, sfreq, 8, 12)
    spread = (env.std(-1) / env.mean(-1)) ** 2  # envelope variance relative to its mean, per parcel
    surrogate_spread = (surrogate_env.std(-1) / surrogate_env.mean(-1)) ** 2
    assert spread.max() > 2 * surrogate_spread.max()
    # states 0 and 3 burst in the alpha band, 1 and 4 in beta, 2 and 5 in theta: where alpha power is
    # highest, it is highest during an alpha state and several times what it is in the beta states
    best = env.mean(-1).argmax()
    power = np.array([(env[best, states == k] ** 2).mean() for k in range(6)])
    assert power.argmax() in (0, 3)
    assert power.max() > 3 * power[[1, 4]].max()
