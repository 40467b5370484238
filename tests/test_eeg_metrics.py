"""Token and EEG/MEG metrics: codebook usage, unigram perplexity, PVE and PSD similarity."""

import math

import numpy as np
import pytest

from tfsignal.metrics import codebook_usage, perplexity, psd_similarity, pve


def coloured(rng, shape, exponent):
    """Gaussian noise with power ~ 1 / f^exponent (no DC), unit std along the last axis."""
    n = shape[-1]
    freqs = np.fft.rfftfreq(n)
    gain = np.zeros_like(freqs)
    gain[1:] = freqs[1:] ** (-exponent / 2)
    spectrum = rng.standard_normal(shape[:-1] + freqs.shape) + 1j * rng.standard_normal(shape[:-1] + freqs.shape)
    x = np.fft.irfft(spectrum * gain, n=n)
    return x / x.std(-1, keepdims=True)


def test_usage_and_perplexity_of_hand_made_tokens():
    uniform = np.tile(np.arange(5), (3, 4))  # 5 codes, 12 times each, shape (3, 20)
    assert codebook_usage(uniform, 8) == 5 / 8
    assert codebook_usage(uniform, 5) == 1.0
    assert perplexity(uniform) == pytest.approx(5.0)
    assert perplexity(uniform, 8) == pytest.approx(5.0)  # unused codes do not change it
    assert perplexity(np.full((4, 7), 3)) == pytest.approx(1.0)
    skewed = np.array([0, 0, 0, 1])  # p = 3/4, 1/4
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert perplexity(skewed) == pytest.approx(math.exp(entropy))
    assert 1.0 < perplexity(skewed) < 2.0
    assert codebook_usage(skewed, 128) == 2 / 128


def test_token_metrics_reject_bad_tokens():
    with pytest.raises(ValueError, match="n_codes"):
        codebook_usage(np.array([0, 5]), 5)
    with pytest.raises(ValueError, match="non-negative"):
        perplexity(np.array([-1, 2]))
    with pytest.raises(ValueError, match="integers"):
        perplexity(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="empty"):
        codebook_usage(np.array([], dtype=int), 4)


def test_pve_identical_mean_and_bad_reconstructions():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 1000)) + np.arange(4)[:, None] * 10  # channel offsets 0, 10, 20, 30
    assert pve(x, x) == 1.0
    assert pve(x, np.full_like(x, x.mean())) == pytest.approx(0.0, abs=1e-12)
    per_channel_mean = np.broadcast_to(x.mean(-1, keepdims=True), x.shape)
    assert pve(x, per_channel_mean, axis=-1) == pytest.approx(0.0, abs=1e-12)
    # with one global mean, reproducing the channel offsets explains most of the variance
    assert pve(x, per_channel_mean) > 0.9
    assert pve(x, x + 0.1 * rng.standard_normal(x.shape), axis=-1) == pytest.approx(0.99, abs=0.005)
    assert pve(x, -x, axis=-1) < -1.0  # worse than the mean
    assert pve(x, x[:, ::-1], axis=-1) < 0.0


def test_pve_rejects_mismatched_shapes_and_constant_reference():
    with pytest.raises(ValueError, match=r"same shape.*\(2, 10\).*\(2, 9\)"):
        pve(np.zeros((2, 10)), np.zeros((2, 9)))
    with pytest.raises(ValueError, match="no variance"):
        pve(np.ones((2, 10)), np.zeros((2, 10)))


def test_psd_similarity_separates_spectral_shapes():
    rng = np.random.default_rng(0)
    sfreq = 250.0
    pink_a = coloured(rng, (3, 30_000), 1.5)
    pink_b = 7.0 * coloured(rng, (3, 20_000), 1.5)  # another realisation, other gain and length
    white = rng.standard_normal((3, 30_000))
    same = psd_similarity(pink_a, pink_b, sfreq)
    different = psd_similarity(white, pink_b, sfreq)
    assert same > 0.95
    assert different < 0.3
    assert same - different > 0.6
    assert psd_similarity(pink_a, pink_a, sfreq) == pytest.approx(1.0)
    # epochs: (n_epochs, n_channels, n_samples), PSD averaged over epochs
    epochs = pink_a.reshape(3, 3, 10_000).transpose(1, 0, 2)
    assert psd_similarity(epochs, pink_b, sfreq) > 0.95


def test_psd_similarity_sees_an_added_rhythm():
    rng = np.random.default_rng(1)
    sfreq = 200.0
    t = np.arange(40_000) / sfreq
    background = coloured(rng, (2, 40_000), 1.0)
    with_alpha = coloured(rng, (2, 40_000), 1.0) + 2.0 * np.sin(2 * np.pi * 10 * t)
    without = coloured(rng, (2, 40_000), 1.0)
    assert psd_similarity(background, without, sfreq) > psd_similarity(background, with_alpha, sfreq) + 0.05


def test_psd_similarity_rejects_mismatched_channels_and_short_input():
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match="same number of channels"):
        psd_similarity(rng.standard_normal((3, 1000)), rng.standard_normal((4, 1000)), 100.0)
    with pytest.raises(ValueError, match="n_channels, n_samples"):
        psd_similarity(rng.standard_normal((1, 2, 3, 1000)), rng.standard_normal((2, 3, 1000)), 100.0)
    with pytest.raises(ValueError, match="frequency bins"):
        psd_similarity(rng.standard_normal((2, 1000)), rng.standard_normal((2, 1000)), 100.0, fmin=10.0, fmax=10.2)
