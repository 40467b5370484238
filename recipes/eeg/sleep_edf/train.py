"""Sleep staging on a local copy of Sleep-EDF Expanded: EEG tokens, bag of tokens, logistic regression.

    python -m recipes.eeg.sleep_edf.train --root ~/data/sleep-edf-database-expanded-1.0.0 --out runs/sleep_edf
    python -m recipes.eeg.sleep_edf.train --root ~/data/sleep-cassette --out runs/sleep_edf --max-subjects 20

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
"cohen_kappa", "weighted_f1", "train_counts", "test_counts", ...} (tfsignal.evaluation.tokens).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tfsignal.arguments import positive_int, recipe_parser
from tfsignal.data.splits import split_subjects
from tfsignal.eeg_datasets import scale_by_q95
from tfsignal.evaluation.tokens import add_scoring_flags, score_and_report, tokenize
from tfsignal.io import InputFileError, load_eeg
from tfsignal.tokenizers import load_tokenizer

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


def parse_args(argv=None) -> argparse.Namespace:
    parser = recipe_parser(__doc__, prog="python -m recipes.eeg.sleep_edf.train")
    parser.add_argument("--root", required=True, help="folder with the Sleep-EDF files (searched recursively)")
    add_scoring_flags(parser)
    parser.add_argument("--study", choices=sorted(STUDIES), default="cassette", help="(default: %(default)s)")
    parser.add_argument("--max-subjects", type=positive_int, help="use only the first N subjects (default: all)")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="subjects held out (default: %(default)s)")
    parser.add_argument("--wake-minutes", type=float, default=30.0, help="wake kept around sleep (default: 30)")
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

    find_data = lambda: find_recordings(args.root, args.study)  # noqa: E731
    return score_and_report(args, settings, find_data, prepare, STAGES, "sleep-edf", "epochs", started)


if __name__ == "__main__":
    sys.exit(main())
