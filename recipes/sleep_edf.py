"""Sleep staging on a local copy of Sleep-EDF Expanded: EEG tokens, bag of tokens, logistic regression.

    python -m recipes.sleep_edf --root ~/data/sleep-edf-database-expanded-1.0.0 --out runs/sleep_edf
    python -m recipes.sleep_edf --root ~/data/sleep-cassette --out runs/sleep_edf --max-subjects 20

Data: Sleep-EDF Expanded (Kemp et al., 2000, "Analysis of a sleep-dependent neuronal feedback loop:
the slow-wave microcontinuity of the EEG", IEEE TBME 47(9); Goldberger et al., 2000, PhysioNet),
open access at https://physionet.org/content/sleep-edfx/ (ODC-By). The recipe never downloads it:
--root is a folder holding the files, searched recursively.

Layout (PhysioNet's sleep-cassette/ folder; names as in the records table that ships with
mne.datasets.sleep_physionet.age, and in MNE's sleep-staging tutorial):

    SC4ssNE0-PSG.edf        polysomnogram of subject ss, night N (E0, F0 or G0 after SC4ssN)
    SC4ssNEC-Hypnogram.edf  its hypnogram (EC, EH, FC, GA, ... after SC4ssN): EDF+ annotations only,
                            "Sleep stage W/1/2/3/4/R/?" and "Movement time", in multiples of 30 s

A polysomnogram and its hypnogram share their first six characters (SC4ssN). --study telemetry
reads sleep-telemetry/ instead (ST7ssNJ0-PSG.edf with ST7ssNJx-Hypnogram.edf).

Preprocessing, as in MNE's sleep-staging tutorial: the EEG Fpz-Cz and Pz-Oz channels at their
recorded 100 Hz, in µV; 30 s epochs labelled W, N1, N2, N3 (Rechtschaffen & Kales stages 3 and 4
merged, as the AASM manual does) and REM; "?" and "Movement time" epochs dropped; only the last
--wake-minutes (30) of wake before the first sleep epoch and the first 30 after the last one kept.
Each epoch and channel is then divided by the 95th percentile of its absolute value, as
TFM-Tokenizer's data loaders do for every dataset (github.com/Jathurshan0330/TFM-Tokenizer).

Subjects, not nights, are split: --test-fraction of them are held out. Epochs are tokenised
(--tokenizer, default the shipped "tfm"), each channel's tokens counted into a histogram, and a
logistic regression trained on the training subjects' histograms. The tokens are cached in
OUT/tokens.npz (reused when the options match; delete it after retraining a tokenizer); the metrics
go to OUT/metrics.json and, as the last line printed, one JSON object: {"balanced_accuracy",
"cohen_kappa", "weighted_f1", "train_counts", "test_counts", ...}. The helpers for tokenising and
scoring serve recipes.tuev too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tfsignal.io import InputFileError, load_eeg, save_text, write_atomically

SFREQ = 100  # Hz, the rate Sleep-EDF records its EEG at
EPOCH_SECONDS = 30
CHANNELS = ("EEG Fpz-Cz", "EEG Pz-Oz")
STAGES = ("W", "N1", "N2", "N3", "REM")
# Hypnogram annotation -> index into STAGES; "Sleep stage ?" and "Movement time" are left out.
STAGE_OF_ANNOTATION = {
    "Sleep stage W": 0,
    "Sleep stage 1": 1,
    "Sleep stage 2": 2,
    "Sleep stage 3": 3,
    "Sleep stage 4": 3,
    "Sleep stage R": 4,
}
WAKE = STAGES.index("W")
STUDIES = {"cassette": "SC", "telemetry": "ST", "all": "S"}


class Recording(NamedTuple):
    psg: Path
    hypnogram: Path
    subject: str  # "SC4ss": the study and subject number (both nights of one person share it)


def find_recordings(root: str | Path, study: str = "cassette") -> list[Recording]:
    """Every polysomnogram under ``root`` paired with its hypnogram, sorted by name."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputFileError(root, "no such folder (expected a Sleep-EDF Expanded copy with SC4ssNE0-PSG.edf files)")
    prefix = STUDIES[study]
    hypnograms = {p.name[:6]: p for p in root.rglob(f"{prefix}*-Hypnogram.edf")}
    recordings = []
    for psg in sorted(root.rglob(f"{prefix}*-PSG.edf"), key=lambda p: p.name):
        hypnogram = hypnograms.get(psg.name[:6])
        if hypnogram is None:
            raise InputFileError(psg, f"no hypnogram beside it (expected {psg.name[:6]}??-Hypnogram.edf)")
        recordings.append(Recording(psg, hypnogram, psg.name[:5]))
    if not recordings:
        raise InputFileError(
            root,
            f"no Sleep-EDF recordings found: expected {prefix}*-PSG.edf files (e.g. SC4001E0-PSG.edf) each with a "
            "matching *-Hypnogram.edf (e.g. SC4001EC-Hypnogram.edf), as in sleep-edfx's sleep-cassette/",
        )
    return recordings


def scored_epochs(onsets, durations, descriptions) -> tuple[np.ndarray, np.ndarray]:
    """``(starts in s, stage indices)`` of the 30 s epochs a hypnogram scores, unscored ones left out."""
    starts, stages = [], []
    for onset, duration, description in zip(onsets, durations, descriptions):
        stage = STAGE_OF_ANNOTATION.get(description)
        if stage is None:
            continue
        n_epochs = int(round(duration)) // EPOCH_SECONDS
        starts.extend(onset + EPOCH_SECONDS * np.arange(n_epochs))
        stages.extend([stage] * n_epochs)
    return np.asarray(starts, dtype=float), np.asarray(stages, dtype=np.int64)


def trim_wake(starts: np.ndarray, stages: np.ndarray, wake_minutes: float = 30.0) -> np.ndarray:
    """Mask of the epochs within ``wake_minutes`` before the first or after the last sleep epoch.

    Recordings run for about a day with long stretches of wake (W) at both ends; keeping all of it
    would make W most of the data. A recording without any sleep keeps nothing.
    """
    sleep = stages != WAKE
    if not sleep.any():
        return np.zeros(len(starts), dtype=bool)
    first = starts[sleep].min() - 60 * wake_minutes
    last = starts[sleep].max() + EPOCH_SECONDS + 60 * wake_minutes
    return (starts >= first) & (starts + EPOCH_SECONDS <= last)


def scale_by_q95(X: np.ndarray) -> np.ndarray:
    """Each row of the last axis divided by the 95th percentile of its absolute value (TFM-Tokenizer's scaling)."""
    return (X / (np.quantile(np.abs(X), 0.95, axis=-1, keepdims=True) + 1e-8)).astype(np.float32)


def load_recording(
    psg: str | Path, hypnogram: str | Path, wake_minutes: float = 30.0, normalize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``(X, stages)`` of one night: X (n_epochs, 2, 3000) float32 at 100 Hz, stages indices into STAGES."""
    import mne

    from tfsignal.frontends.resample import resample

    psg, hypnogram = Path(psg), Path(hypnogram)
    raw = load_eeg(psg, preload=False)  # samples are read below, for the two EEG channels only
    try:
        annotations = mne.read_annotations(hypnogram)
    except (OSError, ValueError, RuntimeError) as err:
        raise InputFileError(hypnogram, f"not a readable EDF+ hypnogram ({err})") from None
    missing = [name for name in CHANNELS if name not in raw.ch_names]
    if missing:
        raise InputFileError(psg, f"has no channel {missing[0]!r} (it has {', '.join(raw.ch_names)})")
    sfreq = raw.info["sfreq"]
    if sfreq != round(sfreq):
        raise InputFileError(psg, f"sampling rate {sfreq} Hz is not a whole number")
    data = raw.get_data(picks=list(CHANNELS), units="uV")  # (2, T)
    data = resample(data, int(sfreq), SFREQ, axis=-1)
    onsets = annotations.onset
    meas_date = raw.info["meas_date"]
    if annotations.orig_time is not None and meas_date is not None:  # both files start together in Sleep-EDF
        onsets = onsets + (annotations.orig_time - meas_date).total_seconds()
    starts, stages = scored_epochs(onsets, annotations.duration, annotations.description)
    keep = trim_wake(starts, stages, wake_minutes)
    keep &= (starts >= 0) & (np.round(starts * SFREQ) + EPOCH_SECONDS * SFREQ <= data.shape[1])
    first = np.round(starts[keep] * SFREQ).astype(np.int64)
    window = np.arange(EPOCH_SECONDS * SFREQ)
    X = data[:, first[:, None] + window].transpose(1, 0, 2).astype(np.float32)  # (n_epochs, 2, 3000)
    return (scale_by_q95(X) if normalize else X), stages[keep]


def load_sleep_edf(
    root: str | Path,
    max_subjects: int | None = None,
    study: str = "cassette",
    wake_minutes: float = 30.0,
    normalize: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, stages, subjects)`` of every night of the first ``max_subjects`` subjects (all when None)."""
    recordings = find_recordings(root, study)
    kept = sorted({r.subject for r in recordings})[:max_subjects]
    Xs, stages, subjects = [], [], []
    for recording in recordings:
        if recording.subject in kept:
            X, y = load_recording(recording.psg, recording.hypnogram, wake_minutes, normalize)
            Xs.append(X)
            stages.append(y)
            subjects.append(np.full(len(y), recording.subject))
    return np.concatenate(Xs), np.concatenate(stages), np.concatenate(subjects)


def split_subjects(subjects, test_fraction: float, seed: int = 0) -> tuple[list[str], list[str]]:
    """``(train, test)`` subject ids: a seeded shuffle of the distinct ids, the last ``test_fraction`` held out."""
    ids = sorted(set(np.asarray(subjects).tolist()))
    if len(ids) < 2:
        raise ValueError(f"need at least 2 subjects to hold some out, found {len(ids)}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction must be between 0 and 1, got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(ids))
    n_test = min(len(ids) - 1, max(1, round(test_fraction * len(ids))))
    test = sorted(ids[i] for i in order[:n_test])
    return [s for s in ids if s not in test], test


def load_tokenizer(name_or_path: str):
    """The shipped TFM tokenizer (``"tfm"``) or one saved in a folder."""
    from tfsignal.tokenizers import TFMTokenizer

    return TFMTokenizer.load(name_or_path)


def token_histogram(n_codes: int):
    """Bag-of-tokens features: per channel, how often each of the ``n_codes`` tokens occurs."""
    from tfsignal.tokenizers import TokenHistogram

    return TokenHistogram(n_codes=n_codes)


def tokenize(X: np.ndarray, tokenizer, sfreq: float, batch_size: int = 256) -> np.ndarray:
    """Tokens (n_epochs, n_channels, n_tokens) of ``X`` (n_epochs, n_channels, n_samples), ``batch_size`` at a time."""
    tokenizer.set_params(sfreq=sfreq)
    batches = [tokenizer.transform(X[i : i + batch_size]) for i in range(0, len(X), batch_size)]
    return np.concatenate([np.asarray(b) for b in batches]).astype(np.int64, copy=False)


def class_counts(labels: np.ndarray, class_names) -> dict[str, int]:
    return {name: int((labels == i).sum()) for i, name in enumerate(class_names)}


def score_tokens(
    train_tokens, y_train, test_tokens, y_test, n_codes: int, class_names, histogram=None, seed: int = 0
) -> dict:
    """Fit histogram features and a logistic regression on train tokens; score the test tokens.

    ``histogram`` is an estimator with ``fit_transform`` / ``transform`` on token arrays (default:
    :class:`tfsignal.tokenizers.TokenHistogram`). Classes are weighted by their inverse frequency,
    as the metrics (balanced accuracy, Cohen's kappa) are.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(y_train)) < 2:
        raise ValueError(f"the training data hold a single class ({class_names[int(y_train[0])]})")
    histogram = token_histogram(n_codes) if histogram is None else histogram
    features_train = np.asarray(histogram.fit_transform(train_tokens), dtype=np.float64)
    features_test = np.asarray(histogram.transform(test_tokens), dtype=np.float64)
    classifier = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)
    )
    predicted = classifier.fit(features_train, y_train).predict(features_test)
    return {
        "balanced_accuracy": round(float(balanced_accuracy_score(y_test, predicted)), 4),
        "cohen_kappa": round(float(cohen_kappa_score(y_test, predicted)), 4),
        "weighted_f1": round(float(f1_score(y_test, predicted, average="weighted")), 4),
        "n_codes": int(n_codes),
        "train_counts": class_counts(y_train, class_names),
        "test_counts": class_counts(y_test, class_names),
    }


def evaluate(
    X_train, y_train, X_test, y_test, tokenizer, sfreq: float, class_names, histogram=None, seed: int = 0
) -> dict:
    """Tokenise both sets with ``tokenizer`` (any object with set_params(sfreq=), transform, n_codes) and score."""
    train_tokens = tokenize(X_train, tokenizer, sfreq)
    test_tokens = tokenize(X_test, tokenizer, sfreq)
    return score_tokens(
        train_tokens, y_train, test_tokens, y_test, tokenizer.n_codes, class_names, histogram=histogram, seed=seed
    )


def cached_tokens(path: Path, settings: dict, compute) -> dict:
    """The arrays ``compute()`` returns, saved to ``path``; read back instead when saved with the same ``settings``."""
    if path.exists():
        with np.load(path) as saved:
            if str(saved["settings"]) == json.dumps(settings, sort_keys=True):
                print(f"reusing the tokens in {path}", file=sys.stderr)
                return {key: saved[key] for key in saved.files if key != "settings"}
    arrays = compute()
    save_npz(path, settings=json.dumps(settings, sort_keys=True), **arrays)
    return arrays


def save_npz(path: Path, **arrays) -> Path:
    """``np.savez`` to ``path`` atomically (given a file name, numpy would append ".npz" to the temporary one)."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    return write_atomically(path, write)


def report(out: Path, summary: dict) -> None:
    """Save ``summary`` to OUT/metrics.json and print it as the last line."""
    save_text(out / "metrics.json", json.dumps(summary, indent=1) + "\n", overwrite=True)
    print(json.dumps(summary))


def score_and_report(
    args: argparse.Namespace,
    settings: dict,
    find_data: Callable[[], object],
    prepare: Callable[[], dict],
    class_names,
    dataset: str,
    unit: str,
    started: float,
) -> int:
    """The end of recipes.sleep_edf and recipes.tuev: tokens, scores and the report; returns the exit code.

    ``find_data()`` raises InputFileError on a wrong --root, so that it is reported before any output
    folder is made. The tokens come from OUT/tokens.npz when it was saved with the same ``settings``,
    else from ``prepare()`` (the arrays train/test_tokens, _labels, _subjects and n_codes). A user's
    mistake is one line on stderr and exit code 2. ``unit`` names the examples in the summary ("epochs", "windows").
    """
    out = Path(args.out).expanduser()
    try:
        if out.exists() and not out.is_dir():
            raise InputFileError(out, "is a file; --out takes a folder")
        find_data()
        out.mkdir(parents=True, exist_ok=True)
        data = cached_tokens(out / "tokens.npz", settings, prepare)
        metrics = score_tokens(
            data["train_tokens"],
            data["train_labels"],
            data["test_tokens"],
            data["test_labels"],
            int(data["n_codes"]),
            class_names,
            seed=args.seed,
        )
    except (InputFileError, FileNotFoundError, ValueError, ImportError) as err:
        print(f"error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    summary = {
        "dataset": dataset,
        "tokenizer": args.tokenizer,
        **metrics,
        f"train_{unit}": len(data["train_labels"]),
        f"test_{unit}": len(data["test_labels"]),
        "train_subjects": len(set(data["train_subjects"].tolist())),
        "test_subjects": len(set(data["test_subjects"].tolist())),
        "seconds": round(time.time() - started, 1),
    }
    report(out, summary)
    return 0


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m recipes.sleep_edf",
        description=__doc__.split("\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", required=True, help="folder with the Sleep-EDF files (searched recursively)")
    parser.add_argument("--out", required=True, help="folder for tokens.npz and metrics.json")
    parser.add_argument("--tokenizer", default="tfm", help="shipped tokenizer name or saved folder (default: tfm)")
    parser.add_argument("--study", choices=sorted(STUDIES), default="cassette", help="(default: %(default)s)")
    parser.add_argument("--max-subjects", type=positive_int, help="use only the first N subjects (default: all)")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="subjects held out (default: %(default)s)")
    parser.add_argument("--wake-minutes", type=float, default=30.0, help="wake kept around sleep (default: 30)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.time()
    settings = {
        "root": str(Path(args.root).expanduser().resolve()),
        **{key: getattr(args, key) for key in ("tokenizer", "study", "max_subjects", "test_fraction", "wake_minutes")},
        "seed": args.seed,
    }

    def prepare() -> dict:
        X, y, subjects = load_sleep_edf(args.root, args.max_subjects, args.study, args.wake_minutes)
        train_ids, test_ids = split_subjects(subjects, args.test_fraction, args.seed)
        tokenizer = load_tokenizer(args.tokenizer)
        train, test = np.isin(subjects, train_ids), np.isin(subjects, test_ids)
        return {
            "train_tokens": tokenize(X[train], tokenizer, SFREQ),
            "train_labels": y[train],
            "train_subjects": subjects[train],
            "test_tokens": tokenize(X[test], tokenizer, SFREQ),
            "test_labels": y[test],
            "test_subjects": subjects[test],
            "n_codes": np.asarray(tokenizer.n_codes),
        }

    return score_and_report(
        args,
        settings,
        find_data=lambda: find_recordings(args.root, args.study),
        prepare=prepare,
        class_names=STAGES,
        dataset="sleep-edf",
        unit="epochs",
        started=started,
    )


if __name__ == "__main__":
    sys.exit(main())
