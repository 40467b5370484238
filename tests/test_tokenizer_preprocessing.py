"""The tokenizers' preprocessing on recordings as amplifiers deliver them: offsets, drift, mains hum,
high sampling rates, short recordings, flat or clipped channels and channels marked bad.

The shipped tokenizers on 8 channels of the committed 30 s of held-out eegmmidb S006 (160 Hz).
"""

import warnings
from pathlib import Path

import numpy as np
import pytest

mne = pytest.importorskip("mne")
from tfsignal.frontends import resample  # noqa: E402
from tfsignal.io import load_eeg  # noqa: E402
from tfsignal.tokenizers import ChannelWarning, load_tokenizer  # noqa: E402
from tfsignal.tokenizers.base import clean_signals  # noqa: E402

RATE = 160.0


@pytest.fixture(scope="module")
def eeg():
    raw = load_eeg(Path(__file__).parent / "data" / "eegmmidb_S006R04_30s.edf")
    return raw.get_data()[:8]  # (8, 4800) in volts


@pytest.fixture(scope="module")
def tokenizers():
    out = {name: load_tokenizer(name) for name in ("tfm", "sample")}
    for tok in out.values():
        tok.set_params(progress=False)
    return out


def offsets_and_drift(eeg, frequency, amplitude, seed=0):
    """Per-channel offsets of 1-5 mV of either sign, a ramp of 3 uV/s and a sinusoidal drift."""
    rng = np.random.default_rng(seed)
    n_channels, n_samples = eeg.shape
    t = np.arange(n_samples) / RATE
    offsets = rng.choice((-1.0, 1.0), (n_channels, 1)) * rng.uniform(1e-3, 5e-3, (n_channels, 1))
    phases = rng.uniform(0, 2 * np.pi, (n_channels, 1))
    return offsets + 3e-6 * t + amplitude * np.sin(2 * np.pi * frequency * t + phases)


@pytest.mark.parametrize("name", ["tfm", "sample"])
def test_dc_offsets_leave_the_tokens_unchanged(eeg, tokenizers, name):
    tok = tokenizers[name]
    tokens = tok.transform(eeg, sfreq=RATE)
    offsets = np.linspace(-5e-3, 5e-3, len(eeg))[:, None]  # millivolts, against ~23 uV rms of EEG
    assert np.array_equal(tok.transform(eeg + offsets, sfreq=RATE), tokens)


def test_slow_drift_is_removed(eeg, tokenizers):
    # the sample tokenizer's 0.5 Hz high-pass takes a 50 uV drift at 0.05 Hz out; TFM's 0.03 Hz one
    # (its weights learnt the sub-hertz band) a 20 uV drift at 0.002 Hz
    for name, frequency, amplitude, agreement in (("sample", 0.05, 50e-6, 0.95), ("tfm", 0.002, 20e-6, 0.9)):
        tok = tokenizers[name]
        tokens = tok.transform(eeg, sfreq=RATE)
        drifting = eeg + offsets_and_drift(eeg, frequency, amplitude)
        assert (tok.transform(drifting, sfreq=RATE) == tokens).mean() >= agreement, name


def test_mains_hum_is_taken_out(eeg, tokenizers):
    t = np.arange(eeg.shape[-1]) / RATE
    hum = 10 * np.sqrt(2) * eeg.std(axis=-1, keepdims=True) * np.sin(2 * np.pi * 50.0 * t + 0.4)
    for name, agreement in (("tfm", 0.95), ("sample", 0.9)):
        tok = tokenizers[name]
        tokens = tok.transform(eeg, sfreq=RATE)
        assert (tok.transform(eeg + hum, sfreq=RATE) == tokens).mean() >= agreement, name
    sample = tokenizers["sample"]
    assert sample.score(eeg + hum, sfreq=RATE) >= 0.95  # 0.975 measured, 0.977 without the hum
    # without the notch the hum, 20 dB above the EEG, is what gets tokenised
    unnotched = sample.set_params(notch_freqs=None)
    try:
        assert (unnotched.transform(eeg + hum, sfreq=RATE) == sample.transform(eeg, sfreq=RATE)).mean() < 0.1
    finally:
        sample.set_params(notch_freqs=(50.0, 60.0))


def test_high_rates_are_resampled_exactly_with_anti_aliasing():
    rate, seconds = 2048.0, 8
    t = np.arange(int(rate * seconds)) / rate
    signal = np.sin(2 * np.pi * 10.0 * t)
    out = resample((signal + np.sin(2 * np.pi * 300.0 * t))[None], rate, 250.0)[0]
    assert out.shape == (250 * seconds,)  # 125 / 1024 exactly, not an approximation of it
    expected = np.sin(2 * np.pi * 10.0 * np.arange(250 * seconds) / 250.0)
    # 300 Hz lies above the new Nyquist frequency (125 Hz) and would alias to 50 Hz; it is filtered out
    middle = slice(250, -250)
    assert np.abs(out[middle] - expected[middle]).max() < 1e-2


def test_a_512_hz_recording_gives_the_tokens_of_the_same_eeg_at_160_hz(eeg, tokenizers):
    up = resample(eeg, RATE, 512.0)
    for name, tok in tokenizers.items():
        assert (tok.transform(up, sfreq=512.0) == tok.transform(eeg, sfreq=RATE)).mean() >= 0.95, name


def test_one_second_recordings_score_sensibly_or_fail_clearly(eeg, tokenizers):
    second = eeg[:, : int(RATE)] + offsets_and_drift(eeg[:, : int(RATE)], 0.05, 50e-6)
    assert 0.9 < tokenizers["sample"].score(second, sfreq=RATE) <= 1.0  # 0.97 measured
    # TFM needs 2 s: on a single 1 s frame its PVE was negative on some held-out recordings
    with pytest.raises(ValueError, match="at least 2 s"):
        tokenizers["tfm"].transform(second, sfreq=RATE)
    two = eeg[:, : int(2 * RATE)] + offsets_and_drift(eeg[:, : int(2 * RATE)], 0.05, 50e-6)
    assert 0.3 < tokenizers["tfm"].score(two, sfreq=RATE) <= 1.0


def test_clean_signals_removes_hum_and_drift_and_keeps_the_eeg_band():
    rate = 250.0
    t = np.arange(int(60 * rate)) / rate
    alpha = np.sin(2 * np.pi * 10.0 * t)
    recorded = 3e3 + alpha + 40 * np.sin(2 * np.pi * 0.02 * t) + 5 * np.sin(2 * np.pi * 60.0 * t + 1.0)
    cleaned = clean_signals(recorded[None], rate, rate, highpass=0.5, notch_freqs=(50.0, 60.0))[0]
    error = np.abs(cleaned - alpha)  # from an offset 3,000 times, a drift 40 times and a hum 5 times the alpha
    assert error[int(4 * rate) : -int(4 * rate)].max() < 0.01
    assert error.max() < 2  # the high-pass settles within the first and last seconds


def test_flat_and_clipped_channels_are_named_in_a_warning(eeg, tokenizers):
    data = eeg[:4].copy()
    data[1] = 2e-3  # a disconnected electrode: an offset and nothing else
    limit = np.percentile(np.abs(data[3]), 80)
    data[3] = np.clip(data[3], -limit, limit)  # saturates a fifth of the time
    raw = mne.io.RawArray(data, mne.create_info(["Fz", "Cz", "Pz", "Oz"], RATE, "eeg"), verbose="error")
    with pytest.warns(ChannelWarning, match=r"flat: Cz; clipped: Oz"):
        tokens = tokenizers["tfm"].transform(raw)
    assert tokens.shape[0] == 4  # reported, then tokenised as asked
    with pytest.warns(ChannelWarning, match=r"flat: channel 1; clipped: channel 3"):
        tokenizers["tfm"].transform(data, sfreq=RATE)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChannelWarning)
        tokenizers["tfm"].transform(eeg, sfreq=RATE)  # real EEG raises nothing


def test_channels_marked_bad_are_left_out(eeg, tokenizers):
    names = [f"E{i}" for i in range(len(eeg))]
    raw = mne.io.RawArray(eeg, mne.create_info(names, RATE, "eeg"), verbose="error")
    raw.info["bads"] = ["E2", "E5"]
    tok = tokenizers["tfm"]
    tokens = tok.transform(raw)
    good = [i for i in range(len(eeg)) if i not in (2, 5)]
    assert np.array_equal(tokens, tok.transform(eeg[good], sfreq=RATE))
    raw.info["bads"] = names
    with pytest.raises(ValueError, match="no good EEG"):
        tok.transform(raw)
