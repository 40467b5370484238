"""Score a speech enhancer on (noisy, clean) folder pairs: wide-band PESQ, ESTOI and SI-SDR.

Any callable ``enhance_fn(x, sample_rate) -> y`` (numpy, same length) can be scored with
:func:`evaluate_pairs`; :data:`METHODS` names the unprocessed input and two classic baselines
(:mod:`tfsignal.baselines`). Files pair up by name, or DNS-Challenge ``*_fileid_N`` ->
``clean_fileid_N``. :func:`add_scoring_flags` and :func:`score_folders` give a recipe the command
line that scores a method on two folders and prints a JSON object of mean scores as its last line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tfsignal.baselines import EnhanceFn, identity, rnnoise, spectral_gating
from tfsignal.data.folders import match_pairs
from tfsignal.io import load_audio
from tfsignal.metrics import estoi, pesq, si_sdr

__all__ = ["EnhanceFn", "METHODS", "METRICS", "evaluate_pairs", "add_scoring_flags", "score_folders"]

METRICS = ("pesq", "estoi", "si_sdr")
METHODS: dict[str, EnhanceFn] = {"noisy": identity, "spectral_gating": spectral_gating, "rnnoise": rnnoise}


def _scores(reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> dict[str, float | None]:
    from pesq import NoUtterancesError

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


def add_scoring_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of :func:`score_folders`: ``--noisy``, ``--clean``, ``--method``, ``--sample-rate``, ``--report``."""
    parser.add_argument("--noisy", required=True, help="folder of noisy .wav/.flac files")
    parser.add_argument("--clean", required=True, help="folder of the clean references (same names)")
    parser.add_argument("--method", choices=sorted(METHODS), default="noisy", help="enhancer (default: %(default)s)")
    parser.add_argument("--sample-rate", type=int, default=16000, help="rate to score at (default: %(default)s)")
    parser.add_argument("--report", help="also write every file's scores to this JSON file")


def score_folders(args: argparse.Namespace) -> int:
    """Score ``args.method`` on the folder pairs, print one JSON line of means; returns the exit code.

    A missing baseline package or a problem with the user's folders is one line on stderr and exit code 2.
    """
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
    summary = {"method": args.method, "n": result["n"], "noisy": result["noisy"], "enhanced": result["enhanced"]}
    print(json.dumps(summary))
    return 0
