"""Score a speech enhancer on (noisy, clean) folder pairs: wide-band PESQ, ESTOI and SI-SDR.

    python -m recipes.common.enhance_eval --noisy runs/starter/data/test/noisy \\
        --clean runs/starter/data/test/clean --method rnnoise

Methods: ``noisy`` (the unprocessed input, the floor to beat), ``spectral_gating`` (noisereduce) and
``rnnoise`` (pyrnnoise); the baselines need ``pip install noisereduce pyrnnoise``. Any callable
``enhance_fn(x, sample_rate) -> y`` (numpy, same length) can be scored with :func:`evaluate_pairs`.
Files pair up by name, or DNS-Challenge ``*_fileid_N`` -> ``clean_fileid_N``. The last line printed
is a JSON object of mean scores.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pesq import NoUtterancesError
from tqdm import tqdm

from tfsignal.frontends import resample
from tfsignal.io import load_audio
from tfsignal.metrics import estoi, pesq, si_sdr
from tfsignal.train.data import match_pairs

EnhanceFn = Callable[[np.ndarray, int], np.ndarray]
METRICS = ("pesq", "estoi", "si_sdr")

# Output lag of RNNoise (the xiph library bundled in pyrnnoise 0.4.5) in samples at 48 kHz: two
# 480-sample frames, measured as the cross-correlation peak between input and output speech.
RNNOISE_DELAY = 960
INT16_SCALE = 32768.0  # RNNoise expects samples on the 16-bit integer scale


def _scores(reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> dict[str, float | None]:
    try:
        pesq_score = pesq(reference, degraded, sample_rate)
    except NoUtterancesError:  # output in which PESQ finds no speech: scored as missing, not fatal
        pesq_score = None
    return {
        "pesq": pesq_score,
        "estoi": estoi(reference, degraded, sample_rate),
        "si_sdr": float(si_sdr(degraded, reference)),
    }


def _means(rows: list[dict[str, float | None]]) -> dict[str, float | None]:
    means = {}
    for name in METRICS:
        values = [r[name] for r in rows if r[name] is not None]
        means[name] = round(float(np.mean(values)), 4) if values else None
    return means


def evaluate_pairs(
    enhance_fn: EnhanceFn, noisy_dir: str | Path, clean_dir: str | Path, sample_rate: int = 16000, progress: bool = True
) -> dict:
    """Score ``enhance_fn`` on every matched pair of ``noisy_dir`` / ``clean_dir`` (read at ``sample_rate``).

    Returns ``{"n", "noisy": means, "enhanced": means, "files": [{"file", "noisy", "enhanced"}, ...]}``
    where means hold ``pesq`` (wide band), ``estoi`` and ``si_sdr`` (dB) of the input and of the
    output against the clean reference. A PESQ the pesq package refuses to compute (no speech
    found) is ``None`` and left out of the mean.
    """
    files = []
    for noisy_path, clean_path in tqdm(match_pairs(noisy_dir, clean_dir), disable=not progress, file=sys.stderr):
        noisy, _ = load_audio(noisy_path, sr=sample_rate)
        clean, _ = load_audio(clean_path, sr=sample_rate)
        n = min(len(noisy), len(clean))
        noisy, clean = noisy[:n], clean[:n]
        enhanced = np.asarray(enhance_fn(noisy.copy(), sample_rate), dtype=np.float32)
        if enhanced.shape != noisy.shape:
            raise ValueError(f"enhance_fn returned shape {enhanced.shape} for input {noisy.shape} ({noisy_path})")
        files.append(
            {
                "file": noisy_path.name,
                "noisy": _scores(clean, noisy, sample_rate),
                "enhanced": _scores(clean, enhanced, sample_rate),
            }
        )
    return {
        "n": len(files),
        "noisy": _means([f["noisy"] for f in files]),
        "enhanced": _means([f["enhanced"] for f in files]),
        "files": files,
    }


# ------------------------------------------------------------------------------------------ baselines


def identity(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """No processing: scores the noisy input itself."""
    return x


def spectral_gating(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """noisereduce's spectral gating with its default settings.

    Those are the non-stationary mode (``stationary=False``: the noise floor is tracked with a
    2 s time constant, so no noise-only excerpt is needed), full reduction (``prop_decrease=1``),
    1024-point STFT and a mask smoothed over 500 Hz and 50 ms. Defaults, untuned, so the baseline
    is the one any user gets.
    """
    import noisereduce

    y = noisereduce.reduce_noise(y=np.asarray(x, dtype=np.float32), sr=sample_rate)
    return _fit(np.asarray(y, dtype=np.float32), len(x))


def rnnoise(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """RNNoise (Valin, 2018; the library bundled in ``pyrnnoise``) with a fresh state per call.

    RNNoise runs on 480-sample frames at 48 kHz, so ``x`` is resampled to 48 kHz and back with
    :func:`tfsignal.frontends.resample`. Its output lags by :data:`RNNOISE_DELAY` samples; the input is
    padded by that much and the lag cut off, so the output is aligned with the input and as long.
    The frame loop calls the library directly (``pyrnnoise.rnnoise.lib``) because pyrnnoise's own
    frame helper rounds to int16 without clipping.
    """
    from pyrnnoise.rnnoise import FRAME_SIZE, SAMPLE_RATE, create, destroy, lib

    x48 = resample(np.asarray(x, dtype=np.float32), sample_rate, SAMPLE_RATE)
    n = len(x48)
    total = n + RNNOISE_DELAY
    total += -total % FRAME_SIZE
    padded = np.zeros(total, dtype=np.float32)
    padded[:n] = x48 * INT16_SCALE
    out = np.empty(total, dtype=np.float32)
    frame = np.zeros(FRAME_SIZE, dtype=np.float32)
    pointer = frame.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    state = create()
    try:
        for start in range(0, total, FRAME_SIZE):
            frame[:] = padded[start : start + FRAME_SIZE]
            lib.rnnoise_process_frame(state, pointer, pointer)  # in place; returns the voice probability
            out[start : start + FRAME_SIZE] = frame
    finally:
        destroy(state)
    y48 = out[RNNOISE_DELAY : RNNOISE_DELAY + n] / INT16_SCALE
    return _fit(resample(y48, SAMPLE_RATE, sample_rate), len(x))


def _fit(y: np.ndarray, length: int) -> np.ndarray:
    """``y`` cut or zero-padded to ``length`` (resampling round trips can differ by a sample)."""
    return y[:length] if len(y) >= length else np.pad(y, (0, length - len(y)))


METHODS: dict[str, EnhanceFn] = {"noisy": identity, "spectral_gating": spectral_gating, "rnnoise": rnnoise}


# ------------------------------------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  python -m recipes.common.enhance_eval --noisy runs/starter/data/test/noisy \\\n"
        "      --clean runs/starter/data/test/clean --method rnnoise",
    )
    parser.add_argument("--noisy", required=True, help="folder of noisy .wav/.flac files")
    parser.add_argument("--clean", required=True, help="folder of the clean references (same names)")
    parser.add_argument("--method", choices=sorted(METHODS), default="noisy", help="enhancer (default: %(default)s)")
    parser.add_argument("--sample-rate", type=int, default=16000, help="rate to score at (default: %(default)s)")
    parser.add_argument("--report", help="also write every file's scores to this JSON file")
    args = parser.parse_args(argv)
    try:
        result = evaluate_pairs(METHODS[args.method], args.noisy, args.clean, args.sample_rate)
    except ImportError as err:
        print(f"error: {err} (the baselines need: pip install noisereduce pyrnnoise)", file=sys.stderr)
        return 2
    except ValueError as err:  # the user's folders or files: one line, exit code 2
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.report:
        Path(args.report).write_text(json.dumps({"method": args.method, **result}, indent=1) + "\n")
    print(
        json.dumps({"method": args.method, "n": result["n"], "noisy": result["noisy"], "enhanced": result["enhanced"]})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
