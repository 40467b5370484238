"""Six-class EEG event classification on a local copy of TUEV: EEG tokens, bag of tokens, logistic regression.

    python -m recipes.eeg.tuev.train --root ~/data/tuh_eeg_events/v2.0.1 --out runs/tuev
    python -m recipes.eeg.tuev.train --root ~/data/tuh_eeg_events/v2.0.1/edf --out runs/tuev --max-subjects 20

Data: the TUH EEG Events Corpus (TUEV; Harati et al., 2015, "Improved EEG event classification
using differential energy", IEEE SPMB), a subset of the TUH EEG Corpus (Obeid & Picone, 2016,
Frontiers in Neuroscience 10:196). It is distributed by the Neural Engineering Data Consortium
(isip.piconepress.com) only under a signed data-use agreement; the recipe never downloads it:
--root is the user's copy, the corpus folder or its edf/ folder.

Layout (v2.0.x, as BIOT's and TFM-Tokenizer's preprocessing scripts and PyHealth's TUEVDataset
read it):

    edf/train/<subject>/<subject>_<index>.edf   e.g. train/00002275/00002275_00000001.edf
    edf/eval/<folder>/<class>_<index>_<part>.edf e.g. eval/032/bckg_032_a_.edf
    beside each .edf, a .rec of the same name:   one event a line, "channel,start_s,stop_s,code"

with codes 1 spsw (spike and sharp wave), 2 gped (generalised periodic epileptiform discharge),
3 pled (periodic lateralised epileptiform discharge), 4 eyem (eye movement), 5 artf (artefact),
6 bckg (background). The channel is an index into TUH's 22-channel TCP montage; events last 1 s.
The corpus's own train/eval split is kept (train for fitting, eval for the metrics); a subject is
the folder its files sit in.

Preprocessing (TFM-Tokenizer's datasets_processing/TUEV/process.py and data loaders, which follow
BIOT's, github.com/ycq091044/BIOT): the referential channels (EEG FP1-REF, ..., in µV) are filtered
0.1-75 Hz with a 60 Hz notch and turned into the 16 TCP bipolar pairs FP1-F7, F7-T3, T3-T5,
T5-O1, FP2-F8, F8-T4, T4-T6, T6-O2, FP1-F3, F3-C3, C3-P3, P3-O1, FP2-F4, F4-C4, C4-P4, P4-O2; the
signals are resampled to 200 Hz; every line of a .rec file gives one 5 s window (1000 samples)
centred on its event (2 s either side of a 1 s event; an event marked on several channels gives
several identical windows, as in the references), each window channel divided by the 95th
percentile of its absolute value. Differences: TFM-Tokenizer resamples to 256 Hz before cutting
and each window to 200 Hz after (FFT resampling), here the whole recording is resampled once
(polyphase); where a window runs past either end of the recording the references wrap around to
the other end, here it is shifted to lie inside the recording; TFM-Tokenizer notches at 50 Hz,
here at 60 Hz (--notch-hz 50 reproduces it), because TUH EEG was recorded at Temple University
Hospital, Philadelphia, on the US 60 Hz mains, so a 50 Hz notch leaves the hum in and removes EEG.

Tokens (--tokenizer, default the shipped "tfm") are counted into per-channel histograms and a
logistic regression is trained on them (tfsignal.evaluation.tokens). The tokens are cached in
OUT/tokens.npz (reused when the options match; delete it after retraining a tokenizer); the metrics
go to OUT/metrics.json and, as the last line printed, one JSON object: {"balanced_accuracy",
"cohen_kappa", "weighted_f1", "train_counts", "test_counts", ...}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tfsignal.arguments import positive_int, recipe_parser
from tfsignal.eeg_datasets import scale_by_q95
from tfsignal.evaluation.tokens import add_scoring_flags, score_and_report, tokenize
from tfsignal.io import InputFileError, load_eeg
from tfsignal.tokenizers import load_tokenizer

SFREQ = 200  # Hz, the rate windows are resampled to
WINDOW_SECONDS = 5
NOTCH_HZ = 60.0  # Hz: TUH EEG was recorded in Philadelphia, on the US 60 Hz mains (TFM-Tokenizer used 50)
CLASSES = ("spsw", "gped", "pled", "eyem", "artf", "bckg")  # .rec codes 1..6
SPLITS = ("train", "eval")
# The 16 bipolar pairs of the temporal central parasagittal (TCP) montage that BIOT and TFM-Tokenizer use.
TCP_PAIRS = (
    ("FP1", "F7"),
    ("F7", "T3"),
    ("T3", "T5"),
    ("T5", "O1"),
    ("FP2", "F8"),
    ("F8", "T4"),
    ("T4", "T6"),
    ("T6", "O2"),
    ("FP1", "F3"),
    ("F3", "C3"),
    ("C3", "P3"),
    ("P3", "O1"),
    ("FP2", "F4"),
    ("F4", "C4"),
    ("C4", "P4"),
    ("P4", "O2"),
)
ELECTRODES = tuple(dict.fromkeys(e for pair in TCP_PAIRS for e in pair))


class Recording(NamedTuple):
    edf: Path
    rec: Path
    split: str  # "train" or "eval"
    subject: str


def edf_folder(root: str | Path) -> Path:
    """The folder holding train/ and eval/: ``root/edf`` or ``root`` itself."""
    root = Path(root).expanduser()
    for folder in (root / "edf", root):
        if any((folder / split).is_dir() for split in SPLITS):
            return folder
    problem = "no such folder" if not root.exists() else "not a TUEV folder"
    raise InputFileError(root, f"{problem} (expected edf/train/<subject>/*.edf and edf/eval/... with .rec files)")


def find_recordings(root: str | Path, max_subjects: int | None = None) -> list[Recording]:
    """Every .edf of both splits with its .rec; the first ``max_subjects`` subject folders of each split."""
    folder = edf_folder(root)
    recordings = []
    for split in SPLITS:
        subjects = sorted(p for p in (folder / split).glob("*") if p.is_dir())[:max_subjects]
        for subject in subjects:
            for edf in sorted(subject.rglob("*.edf")):
                rec = edf.with_suffix(".rec")
                if not rec.exists():
                    raise InputFileError(edf, f"no label file {rec.name} beside it")
                recordings.append(Recording(edf, rec, split, subject.name))
    if not recordings:
        raise InputFileError(folder, "no .edf files under train/<subject>/ or eval/<subject>/")
    return recordings


def read_rec(path: str | Path) -> np.ndarray:
    """The events of a .rec file: (n_events, 4) float array of channel, start (s), stop (s), code (1..6)."""
    path = Path(path)
    try:
        events = np.loadtxt(path, delimiter=",", ndmin=2)
    except ValueError as err:
        raise InputFileError(path, f"not a TUEV label file of 'channel,start,stop,code' lines ({err})") from None
    if events.size == 0:
        return np.zeros((0, 4))
    if events.shape[1] != 4:
        raise InputFileError(path, f"expected 4 comma-separated columns, found {events.shape[1]}")
    codes = events[:, 3]
    if not np.isin(codes, np.arange(1, len(CLASSES) + 1)).all():
        raise InputFileError(path, f"label codes must be 1..{len(CLASSES)}, found {sorted(set(codes.tolist()))}")
    if (events[:, 2] < events[:, 1]).any():
        raise InputFileError(path, "an event stops before it starts")
    return events


def electrode(channel: str) -> str:
    """The electrode of a referential channel: "EEG FP1-REF" -> "FP1" (and "EEG FP1-LE", linked ears)."""
    name = channel.upper().removeprefix("EEG").strip()
    return name.split("-")[0].strip()


def tcp_bipolar(data: np.ndarray, ch_names) -> np.ndarray:
    """The 16 TCP bipolar channels (16, n_samples) from referential ``data`` (n_channels, n_samples)."""
    index = {}
    for i, name in enumerate(ch_names):
        index.setdefault(electrode(name), i)
    missing = [e for e in ELECTRODES if e not in index]
    if missing:
        raise ValueError(f"no referential channel for electrode(s) {', '.join(missing)}")
    return np.stack([data[index[a]] - data[index[b]] for a, b in TCP_PAIRS])


def event_windows(signal: np.ndarray, events: np.ndarray, sfreq: float = SFREQ) -> np.ndarray:
    """(n_events, n_channels, 5 s) windows of ``signal`` (n_channels, n_samples), centred on each event."""
    length = int(WINDOW_SECONDS * sfreq)
    if signal.shape[1] < length:
        raise ValueError(f"the recording is shorter than one {WINDOW_SECONDS} s window")
    centres = (events[:, 1] + events[:, 2]) / 2
    first = np.clip(np.round((centres - WINDOW_SECONDS / 2) * sfreq).astype(np.int64), 0, signal.shape[1] - length)
    return signal[:, first[:, None] + np.arange(length)].transpose(1, 0, 2)


def load_recording(
    edf: str | Path,
    rec: str | Path,
    bandpass: tuple[float, float] | None = (0.1, 75.0),
    notch_hz: float | None = NOTCH_HZ,
    normalize: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """``(X, labels)`` of one file: X (n_events, 16, 1000) float32 at 200 Hz, labels 0..5 (indices into CLASSES)."""
    import mne

    from tfsignal.frontends.resample import resample

    edf = Path(edf)
    events = read_rec(rec)
    raw = load_eeg(edf, preload=False)  # samples are read below, for the 16 electrodes only
    picks = [name for name in raw.ch_names if electrode(name) in ELECTRODES]
    sfreq = raw.info["sfreq"]
    if sfreq != round(sfreq):
        raise InputFileError(edf, f"sampling rate {sfreq} Hz is not a whole number")
    try:
        data = raw.get_data(picks=picks, units="uV") if picks else np.zeros((0, raw.n_times))
        signal = tcp_bipolar(data, picks)  # (16, T); the filters are linear, so they commute with it
        if bandpass is not None:
            signal = mne.filter.filter_data(signal, sfreq, *bandpass, verbose="error")
        if notch_hz:
            signal = mne.filter.notch_filter(signal, sfreq, notch_hz, verbose="error")
        X = event_windows(resample(signal, int(sfreq), SFREQ, axis=-1), events).astype(np.float32)
    except ValueError as err:
        raise InputFileError(edf, str(err)) from None
    return (scale_by_q95(X) if normalize else X), events[:, 3].astype(np.int64) - 1


def load_tuev(
    root: str | Path, split: str, max_subjects: int | None = None, notch_hz: float | None = NOTCH_HZ
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, labels, subjects)`` of one split ("train" or "eval"): X (n_events, 16, 1000) at 200 Hz."""
    Xs, labels, subjects = [np.zeros((0, len(TCP_PAIRS), WINDOW_SECONDS * SFREQ), np.float32)], [], []
    for recording in find_recordings(root, max_subjects):
        if recording.split == split:
            X, y = load_recording(recording.edf, recording.rec, notch_hz=notch_hz)
            Xs.append(X)
            labels.append(y)
            subjects.append(np.full(len(y), recording.subject))
    if not labels:
        raise InputFileError(edf_folder(root) / split, "holds no recordings")
    return np.concatenate(Xs), np.concatenate(labels), np.concatenate(subjects)


def parse_args(argv=None) -> argparse.Namespace:
    parser = recipe_parser(__doc__, prog="python -m recipes.eeg.tuev.train")
    parser.add_argument("--root", required=True, help="TUEV folder (the one holding edf/, or edf/ itself)")
    add_scoring_flags(parser)
    parser.add_argument("--max-subjects", type=positive_int, help="first N subject folders of each split")
    parser.add_argument(
        "--notch-hz", type=float, default=NOTCH_HZ, help="mains notch filter; 0 for none (default: %(default)g)"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.time()
    settings = {
        "root": str(Path(args.root).expanduser().resolve()),
        "tokenizer": args.tokenizer,
        "max_subjects": args.max_subjects,
        "notch_hz": args.notch_hz,
    }

    def prepare() -> dict:
        tokenizer = load_tokenizer(args.tokenizer)
        arrays = {"n_codes": np.asarray(tokenizer.n_codes)}
        for split, name in (("train", "train"), ("eval", "test")):
            X, y, subjects = load_tuev(args.root, split, args.max_subjects, args.notch_hz)
            arrays.update({f"{name}_tokens": tokenize(X, tokenizer, SFREQ), f"{name}_labels": y})
            arrays[f"{name}_subjects"] = subjects
        return arrays

    return score_and_report(args, settings, lambda: edf_folder(args.root), prepare, CLASSES, "tuev", "windows", started)


if __name__ == "__main__":
    sys.exit(main())
