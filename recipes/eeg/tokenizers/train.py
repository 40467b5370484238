"""Train the shipped EEG tokenizers on real EEG (whole subjects held out) plus simulated MEG.

    python -m recipes.eeg.tokenizers.train --data DATA --tokenizer tfm --out models/pretrained/tfm --minutes 30
    python -m recipes.eeg.tokenizers.train --data DATA --tokenizer sample --out models/pretrained/sample --minutes 30

Data (``--data``, a folder holding eegmat/ and eegmmidb/ as PhysioNet lays them out):
- eegmat: "EEG During Mental Arithmetic Tasks", PhysioNet (Zyma et al., Data 2019), 19-channel
  10-20 EEG at 500 Hz, rest and arithmetic files of 10 subjects;
- eegmmidb: "EEG Motor Movement/Imagery Dataset", PhysioNet (Schalk et al., IEEE TBME 2004),
  64-channel EEG at 160 Hz, 6 subjects. PhysioNet: Goldberger et al., Circulation 2000.
- simulated MEG (``tfsignal.simulate.simulate_meg``: 52 parcels at 250 Hz); there is no real MEG
  offline, so MEG is simulated and every figure that uses it says so.

Subjects ``--test-subjects`` (default eegmat Subject08, Subject09 and eegmmidb S005, S006) and a
separately seeded simulated MEG recording are never seen in training. The final JSON line holds
the held-out "pve", "usage" and "perplexity" per source, computed by ``score`` on each whole
recording (continuous, channel by channel).

``--evaluate TOKENIZER`` skips training and scores a shipped or saved tokenizer on the held-out
recordings, each altered as ``--cases`` (comma-separated) says, to see it on recordings as
amplifiers in the wild deliver them:

- ``clean``: as stored;
- ``dc_drift``: a per-channel DC offset of 1-5 mV of either sign (an unreferenced BioSemi-style
  recording) plus a slow drift per channel (a ramp of up to 100 uV a minute and a 0.02-0.1 Hz
  sinusoid of 20-100 uV);
- ``hum50``: a 50 Hz sinusoid of ten times each channel's rms;
- ``up512``: eegmmidb resampled up from 160 Hz to 512 Hz with the offsets and drift of ``dc_drift``
  (no 64-channel 512 Hz recording is available offline, so this stands in for one);
- ``short1s``: the first second of each recording.

    python -m recipes.eeg.tokenizers.train --data DATA --evaluate sample --cases clean,dc_drift,hum50,up512,short1s
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.signal import resample_poly

from tfsignal.arguments import recipe_parser
from tfsignal.eeg_datasets import recording_paths
from tfsignal.io import InputFileError

DEFAULT_TEST = ("Subject08", "Subject09", "S005", "S006")
WINDOW_S = 10.0  # training recordings are cut into windows of this length
CASES = ("clean", "dc_drift", "hum50", "up512", "short1s")


def recordings(root: Path) -> list[tuple[str, Path]]:
    """(subject, path) of every EDF under the two dataset folders, eegmat's first."""
    found = sorted(recording_paths(root), key=lambda r: r.dataset != "eegmat")  # stable: each keeps its order
    return [(r.subject, r.path) for r in found]


def read_eeg(path: Path):
    """The recording's EEG channels only (eegmat also holds an ear-reference and an ECG channel)."""
    from tfsignal.io import load_eeg

    raw = load_eeg(path)
    drop = [name for name in raw.ch_names if "ECG" in name or "A2-A1" in name]
    return raw.drop_channels(drop)


def windows(signals: np.ndarray, rate: float, target: float) -> np.ndarray:
    """(n_channels, n_samples) at ``rate`` -> non-overlapping (n, 1, window) at ``target`` Hz."""
    from tfsignal.frontends import resample

    signals = resample(signals, rate, target)
    size = int(WINDOW_S * target)
    n = signals.shape[-1] // size
    return signals[:, : n * size].reshape(signals.shape[0], n, size).transpose(1, 0, 2).reshape(-1, 1, size)


def add_line_noise(X: np.ndarray, rate: float, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Mains hum on a random ``fraction`` of the windows (n, 1, samples): a 50 or 60 Hz sinusoid of random
    phase with 0.1-3 times the window's rms. Recordings without a notch filter carry it (eegmmidb's
    held-out S005 has more power at 60 Hz than in all of 1-50 Hz); eegmat's files were notched."""
    X = X.copy()
    t = np.arange(X.shape[-1]) / rate
    for i in np.flatnonzero(rng.random(len(X)) < fraction):
        freq = rng.choice((50.0, 60.0))
        amplitude = np.sqrt(2) * X[i, 0].std() * np.exp(rng.uniform(np.log(0.1), np.log(3.0)))
        X[i, 0] += amplitude * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    return X


def dc_and_drift(data: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """``data`` (n_channels, n_samples) in volts plus per-channel offsets of 1-5 mV and a slow drift."""
    n_channels, n_samples = data.shape
    t = np.arange(n_samples) / rate
    offset = rng.choice((-1.0, 1.0), n_channels) * rng.uniform(1e-3, 5e-3, n_channels)
    slope = rng.uniform(-100e-6, 100e-6, n_channels) / 60.0  # volts per second
    freq = rng.uniform(0.02, 0.1, n_channels)
    swing = rng.uniform(20e-6, 100e-6, n_channels)
    phase = rng.uniform(0, 2 * np.pi, n_channels)
    drift = slope[:, None] * t + swing[:, None] * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None])
    return data + offset[:, None] + drift


def altered(case: str, data: np.ndarray, rate: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """One recording (n_channels, n_samples) at ``rate`` as ``case`` has it: (data, rate)."""
    if case == "clean":
        return data, rate
    if case == "dc_drift":
        return dc_and_drift(data, rate, rng), rate
    if case == "hum50":
        t = np.arange(data.shape[-1]) / rate
        amplitude = 10 * np.sqrt(2) * data.std(axis=-1, keepdims=True)
        return data + amplitude * np.sin(2 * np.pi * 50.0 * t + rng.uniform(0, 2 * np.pi)), rate
    if case == "up512":
        up = resample_poly(data, 512, int(round(rate)), axis=-1)
        return dc_and_drift(up, 512.0, rng), 512.0
    if case == "short1s":
        return data[:, : int(round(rate))], rate
    raise ValueError(f"unknown case {case!r}")


def held_out_scores(tokenizer, test: list[tuple[str, Path]], case: str, seed: int) -> dict:
    """Per source, the mean "pve", "usage" and "perplexity" of ``score`` on each held-out recording
    altered as ``case`` says (``clean``: as stored), or the first error."""
    rng = np.random.default_rng(seed)
    results = {}
    for source in ("eegmat", "eegmmidb"):
        if case == "up512" and source == "eegmat":
            continue  # eegmat is already at 500 Hz
        scores = []
        for path in [p for _, p in test if source in str(p)]:
            raw = read_eeg(path)
            data, rate = altered(case, raw.get_data(), raw.info["sfreq"], rng)
            try:
                scores.append(tokenizer.scores(data, sfreq=rate))
            except ValueError as err:
                return {**results, source: {"error": str(err)}}
        results[source] = {k: round(float(np.mean([s[k] for s in scores])), 4) for k in ("pve", "usage", "perplexity")}
        results[source]["recordings"] = len(scores)
    return results


def evaluate(args, test: list[tuple[str, Path]]) -> dict:
    """``--evaluate``: a shipped or saved tokenizer scored on the held-out recordings under ``--cases``."""
    from tfsignal.tokenizers import load_tokenizer

    tokenizer = load_tokenizer(args.evaluate).set_params(progress=False)
    if args.highpass is not None:
        tokenizer.set_params(highpass=args.highpass or None)
    if args.notch is not None:
        notch = None if args.notch == "none" else tuple(float(f) for f in args.notch.split(","))
        tokenizer.set_params(notch_freqs=notch)
    results = {}
    for case in args.cases.split(","):
        results[case] = held_out_scores(tokenizer, test, case, args.seed)
        print(case, json.dumps(results[case]), file=sys.stderr)
    preprocessing = {"highpass": tokenizer.highpass, "notch_freqs": tokenizer.notch_freqs}
    return {"tokenizer": args.evaluate, **preprocessing, "held_out": results}


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__)
    parser.add_argument("--tokenizer", choices=("tfm", "sample"), default="tfm")
    parser.add_argument("--data", type=Path, required=True, help="EEG folder (eegmat/, eegmmidb/ in EDF)")
    parser.add_argument("--out", type=Path, help="path prefix of the saved NAME.json/.safetensors")
    parser.add_argument("--evaluate", metavar="TOKENIZER", help="score this shipped or saved tokenizer; no training")
    parser.add_argument("--cases", default="clean", help=f"with --evaluate, comma-separated: {', '.join(CASES)}")
    parser.add_argument("--highpass", type=float, default=None, help="with --evaluate: high-pass in Hz (0: none)")
    parser.add_argument("--notch", default=None, help="with --evaluate: mains frequencies, comma-separated, or none")
    parser.add_argument("--test-subjects", default=",".join(DEFAULT_TEST))
    parser.add_argument("--meg-minutes", type=float, default=10.0, help="simulated MEG added to training (0: none)")
    parser.add_argument("--line-noise", type=float, default=0.3, help="fraction of windows given mains hum")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--minutes", type=float, default=None, help="stop training after this long")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--dim", type=int, default=None, help="TFM code size (default: the estimator's, 32)")
    parser.add_argument("--heads", type=int, default=None, help="TFM attention heads (default: the estimator's, 4)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    from tfsignal.simulate import simulate_meg
    from tfsignal.tokenizers import SampleTokenizer, TFMTokenizer

    cls = TFMTokenizer if args.tokenizer == "tfm" else SampleTokenizer
    rate = cls.sfreq_model
    try:
        found = recordings(args.data)
    except InputFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    test_subjects = set(args.test_subjects.split(","))
    train = [(s, p) for s, p in found if s not in test_subjects]
    test = [(s, p) for s, p in found if s in test_subjects]
    if args.evaluate:
        print(json.dumps(evaluate(args, test)))
        return 0
    if args.out is None:
        parser.error("--out is required to train (or pass --evaluate TOKENIZER)")
    parts = []
    for _, path in train:
        raw = read_eeg(path)
        parts.append(windows(raw.get_data(), raw.info["sfreq"], rate))
    if args.meg_minutes > 0:
        meg = simulate_meg(duration_s=60 * args.meg_minutes, sfreq=250.0, seed=args.seed)
        parts.append(windows(meg, 250.0, rate))
    X = np.concatenate(parts).astype(np.float32)
    X = X[X.std(axis=-1)[:, 0] > 0]  # flat channels carry nothing to learn
    X = add_line_noise(X, rate, args.line_noise, np.random.default_rng(args.seed))
    print(
        f"training on {len(train)} recordings of {len({s for s, _ in train})} subjects: {len(X)} windows "
        f"of {WINDOW_S:g} s ({len(X) * WINDOW_S / 3600:.1f} channel-hours)",
        file=sys.stderr,
    )

    params = {"max_steps": args.steps, "max_minutes": args.minutes, "random_state": args.seed}
    if args.batch_size:
        params["batch_size"] = args.batch_size
    for name in ("dim", "heads"):
        if getattr(args, name) is not None:
            if args.tokenizer != "tfm":
                parser.error(f"--{name} is a TFM option")
            params[name] = getattr(args, name)
    start = time.monotonic()
    tokenizer = cls(**params).fit(X, sfreq=rate)  # the rate of this call only: the saved tokenizer takes any
    train_s = time.monotonic() - start
    tokenizer.save(args.out, overwrite=args.overwrite)

    results = held_out_scores(tokenizer, test, "clean", args.seed)
    meg_test = simulate_meg(duration_s=120.0, sfreq=250.0, seed=args.seed + 1000)
    results["simulated_meg"] = {k: round(v, 4) for k, v in tokenizer.scores(meg_test, sfreq=250.0).items()}
    line = {
        "tokenizer": args.tokenizer,
        "out": str(args.out),
        "steps": tokenizer.n_steps_,
        "train_s": round(train_s),
        "final_loss": round(float(np.mean(tokenizer.loss_curve_[-50:])), 5),
        "held_out": results,
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
