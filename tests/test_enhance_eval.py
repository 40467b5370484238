"""Enhancer evaluation: metrics over folder pairs, and the spectral-gating and RNNoise baselines."""

import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import correlate

from tfsignal.data.activity import active_power
from tfsignal.io import load_audio, save_audio
from tfsignal.metrics import si_sdr

RATE = 16000
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def enhance_eval():
    return importlib.import_module("tfsignal.evaluation.enhancement")


@pytest.fixture
def baselines():
    return importlib.import_module("tfsignal.baselines")


@pytest.fixture
def folder_scoring(monkeypatch):
    # recipes/ is a folder of the repository, not of the installed package: import it from the checkout.
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("recipes.enhancement.vb_demandex.evaluate")


def mix(data_dir, snr_db):
    speech = load_audio(data_dir / "speech_libri.flac", sr=RATE)[0]
    rain = load_audio(data_dir / "noise_rain.flac", sr=RATE)[0][: len(speech)]
    rain *= np.sqrt(active_power(speech, RATE) / np.mean(rain**2) / 10 ** (snr_db / 10))
    return (speech + rain).astype(np.float32), speech


def lag(output, reference):
    """Shift (samples) that best aligns ``output`` with ``reference``; positive when ``output`` is late."""
    return int(np.argmax(correlate(output, reference, mode="full", method="fft")) - (len(reference) - 1))


@pytest.fixture
def pairs(tmp_path, data_dir):
    for name, snr in [("a.wav", 0.0), ("b.wav", 10.0)]:
        noisy, clean = mix(data_dir, snr)
        for sub, x in [("noisy", noisy), ("clean", clean)]:
            (tmp_path / sub).mkdir(exist_ok=True)
            save_audio(tmp_path / sub / name, x[: 2 * RATE], RATE)
    return tmp_path


def test_identity_scores_equal_noisy_scores(enhance_eval, folder_scoring, pairs, capsys):
    result = enhance_eval.evaluate_pairs(lambda x, sr: x, pairs / "noisy", pairs / "clean", progress=False)
    assert result["n"] == 2 and len(result["files"]) == 2
    assert result["enhanced"] == result["noisy"]
    assert set(result["noisy"]) == {"pesq", "estoi", "si_sdr"}
    assert result["files"][0]["noisy"]["si_sdr"] < result["files"][1]["noisy"]["si_sdr"]  # 0 dB vs 10 dB
    assert folder_scoring.main(["--noisy", str(pairs / "noisy"), "--clean", str(pairs / "clean")]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["method"] == "noisy" and line["n"] == 2 and line["enhanced"] == line["noisy"]


def test_evaluate_rejects_wrong_length(enhance_eval, pairs):
    with pytest.raises(ValueError, match="enhance_fn returned shape"):
        enhance_eval.evaluate_pairs(lambda x, sr: x[:-1], pairs / "noisy", pairs / "clean", progress=False)


def test_rnnoise_is_aligned_and_improves_si_sdr(baselines, data_dir):
    pytest.importorskip("pyrnnoise")
    speech = load_audio(data_dir / "speech_libri.flac", sr=RATE)[0]
    out = baselines.rnnoise(speech, RATE)
    assert out.shape == speech.shape and out.dtype == np.float32
    assert lag(out, speech) == 0
    noisy, clean = mix(data_dir, 0.0)
    enhanced = baselines.rnnoise(noisy, RATE)
    assert lag(enhanced, clean) == 0
    assert si_sdr(enhanced, clean) > si_sdr(noisy, clean) + 3


def test_spectral_gating_keeps_length_and_alignment(baselines, data_dir):
    pytest.importorskip("noisereduce")
    noisy, clean = mix(data_dir, 0.0)
    enhanced = baselines.spectral_gating(noisy, RATE)
    assert enhanced.shape == noisy.shape and np.isfinite(enhanced).all()
    assert lag(enhanced, clean) == 0


def test_starter_evaluate_scores_methods_on_clean_input(monkeypatch, pairs, capsys):
    # the starter's evaluate reads DATA/test/{noisy,clean}; --clean-input feeds the clean files themselves
    monkeypatch.syspath_prepend(str(ROOT))
    evaluate = importlib.import_module("recipes.enhancement.starter.evaluate")
    test = pairs / "data/test"
    test.mkdir(parents=True)
    (pairs / "noisy").rename(test / "noisy")
    (pairs / "clean").rename(test / "clean")
    (test / "meta.csv").write_text("file,snr_db\na.wav,0\nb.wav,10\n")
    assert evaluate.main(["--data", str(pairs / "data"), "--methods", "noisy", "--no-dnsmos"]) == 0
    noisy = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["results"]["noisy"]
    assert evaluate.main(["--data", str(pairs / "data"), "--methods", "noisy", "--clean-input", "--no-dnsmos"]) == 0
    out = capsys.readouterr().out
    clean = json.loads(out.strip().splitlines()[-1])["results"]["noisy"]
    assert "clean speech as input" in out and "by input SNR" not in out
    assert clean["si_sdr"] > 60 and noisy["si_sdr"] < 10  # the clean file itself against itself
    assert "| noisy input | +0.0 | +0.0 |" in out  # the identity does not colour speech
    shutil.copytree(test, pairs / "data/val")
    assert evaluate.main(["--data", str(pairs / "data"), "--split", "val", "--methods", "noisy", "--no-dnsmos"]) == 0
    assert "held-out val set: 2 clips, noisy input" in capsys.readouterr().out
    files = sorted((test / "clean").iterdir())
    gains = evaluate.band_gains(lambda x, sr: np.convolve(x, [0.5, 0.5], mode="same"), files)  # a low-pass
    assert gains[-1] < gains[0] - 8 and gains[-1] < gains[-2] < gains[-3]  # the higher, the lower
