"""EEG datasets: loaders for the two labelled PhysioNet EEG datasets and the per-window scaling of
TFM-Tokenizer's data loaders.

The datasets are read from a local folder laid out as::

    ROOT/eegmmidb/S001/S001R04.edf ...   EEG Motor Movement/Imagery (Schalk et al., IEEE TBME 2004)
    ROOT/eegmat/Subject00_1.edf ...      EEG During Mental Arithmetic Tasks (Zyma et al., Data 2019)

(both from PhysioNet, Goldberger et al., Circulation 2000; ODC-By 1.0). Files are read through
:func:`tfsignal.io.load_eeg`; a missing folder or file raises :class:`tfsignal.io.InputFileError`.
Every loader returns ``(epochs, y, subjects)``: an ``mne.Epochs`` of unfiltered EEG (tokenizers see
the raw signal; a baseline that wants a band filters it itself), integer labels and the subject of
each epoch, for subject-wise splits (:func:`tfsignal.data.splits.split_subjects`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tfsignal.io import InputFileError, load_eeg

__all__ = ["Recording", "load_motor_imagery", "load_mental_arithmetic", "recording_paths", "scale_by_q95"]

# eegmmidb runs of imagined left/right fist movement, and the annotations of the two imagined movements.
IMAGERY_RUNS = (4, 8, 12)
IMAGERY_CLASSES = {"T1": 0, "T2": 1}  # T1 = left fist, T2 = right fist
# eegmat's EEG channels in file order, as 10-20 names (its files call them "EEG Fp1", ...).
EEGMAT_CHANNELS = ("Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4", "T5", "T6", "P3", "P4", "O1", "O2")
EEGMAT_CHANNELS += ("Fz", "Cz", "Pz")
EEGMAT_CONDITIONS = {"1": 0, "2": 1}  # SubjectNN_1 = rest, SubjectNN_2 = mental arithmetic


class Recording(NamedTuple):
    path: Path
    subject: str
    dataset: str  # "eegmmidb" or "eegmat"


def _mne():
    from tfsignal.io import _import_mne

    return _import_mne()


def _dataset_folder(root: str | os.PathLike, name: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputFileError(root, "EEG data folder not found (give its path with --data)")
    folder = root / name
    if not folder.is_dir():
        raise InputFileError(folder, f"no {name} folder in the EEG data folder")
    return folder


def _montage(mne, system: str):
    """The template 10-20/10-05 positions; mne 1.13 renamed ``standard_10xx`` to ``colin27_10xx``."""
    name = f"colin27_{system}" if f"colin27_{system}" in mne.channels.get_builtin_montages() else f"standard_{system}"
    return mne.channels.make_standard_montage(name)


def _imagery_subjects(folder: Path, subjects) -> list[str]:
    if subjects is not None:
        return list(subjects)
    found = sorted(p.name for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"S\d{3}", p.name))
    if not found:
        raise InputFileError(folder, "no subject folders (S001, S002, ...)")
    return found


def _eegmat_subjects(folder: Path, subjects) -> list[str]:
    if subjects is not None:
        return list(subjects)
    found = sorted({p.name.split("_")[0] for p in folder.glob("Subject*_[12].edf")})
    if not found:
        raise InputFileError(folder, "no SubjectNN_1.edf / SubjectNN_2.edf files")
    return found


def _concatenate(mne, epochs: list, labels: list, groups: list):
    combined = mne.concatenate_epochs(epochs, verbose="error") if len(epochs) > 1 else epochs[0]
    return combined, np.concatenate(labels).astype(np.int64), np.concatenate(groups)


def load_motor_imagery(
    root: str | os.PathLike,
    tmin: float = 0.0,
    tmax: float = 4.0,
    l_freq: float | None = None,
    h_freq: float | None = None,
    subjects: list[str] | None = None,
):
    """Imagined left (0) vs right (1) fist trials of eegmmidb runs R04, R08 and R12.

    Returns ``(epochs, y, subjects)``: one epoch from ``tmin`` to ``tmax`` seconds after each cue
    (both ends included: 641 samples at 160 Hz by default), channel names standardised (``Fc5.`` →
    ``FC5``) with 10-05 template positions. ``l_freq``/``h_freq`` band-pass each run before
    epoching (default: unfiltered). ``subjects`` picks subject folders (default: every ``S###``
    folder, e.g. S001–S006); subjects recorded at another rate are resampled to the first one's.
    """
    mne = _mne()
    folder = _dataset_folder(root, "eegmmidb")
    montage = _montage(mne, "1005")
    epochs, labels, groups = [], [], []
    sfreq = None
    for subject in _imagery_subjects(folder, subjects):
        runs = [load_eeg(folder / subject / f"{subject}R{run:02d}.edf") for run in IMAGERY_RUNS]
        raw = mne.concatenate_raws(runs, verbose="error")  # marks the joins, so no epoch spans two runs
        mne.datasets.eegbci.standardize(raw)
        raw.set_montage(montage, verbose="error")
        if l_freq is not None or h_freq is not None:
            raw.filter(l_freq, h_freq, verbose="error")
        sfreq = sfreq or raw.info["sfreq"]
        if raw.info["sfreq"] != sfreq:
            raw.resample(sfreq, verbose="error")
        event_ids = {name: code + 1 for name, code in IMAGERY_CLASSES.items()}  # mne event codes start at 1
        events, _ = mne.events_from_annotations(raw, event_id=event_ids, verbose="error")
        if len(events) == 0:
            raise InputFileError(folder / subject, "no T1/T2 (left/right fist imagery) annotations in R04/R08/R12")
        subject_epochs = mne.Epochs(
            raw,
            events,
            {"left": 1, "right": 2},
            tmin,
            tmax,
            baseline=None,
            picks="eeg",
            preload=True,
            verbose="error",
        )
        epochs.append(subject_epochs)
        labels.append(subject_epochs.events[:, 2] - 1)  # the trials kept (one cut off by a file's end is not)
        groups.append(np.full(len(subject_epochs), subject))
    return _concatenate(mne, epochs, labels, groups)


def load_mental_arithmetic(
    root: str | os.PathLike,
    window_s: float = 4.0,
    crop_s: float | None = 62.0,
    subjects: list[str] | None = None,
):
    """Rest (0) vs mental arithmetic (1) windows of eegmat.

    Returns ``(epochs, y, subjects)``: non-overlapping ``window_s`` windows of each recording's 19
    EEG channels (10-20 names ``Fp1`` ... ``Pz``; the A2-A1 and ECG channels are dropped) with 10-20
    template positions. Each recording is first cut to its first ``crop_s`` seconds, so that
    PhysioNet's original rest files (up to 188 s) give as many windows as the 62 s arithmetic ones;
    None keeps whole files.
    """
    mne = _mne()
    folder = _dataset_folder(root, "eegmat")
    montage = _montage(mne, "1020")
    epochs, labels, groups = [], [], []
    for subject in _eegmat_subjects(folder, subjects):
        for condition, label in EEGMAT_CONDITIONS.items():
            path = folder / f"{subject}_{condition}.edf"
            raw = load_eeg(path)
            raw.rename_channels({name: name.removeprefix("EEG ").strip() for name in raw.ch_names})
            missing = [name for name in EEGMAT_CHANNELS if name not in raw.ch_names]
            if missing:
                raise InputFileError(path, f"lacks the EEG channels {', '.join(missing)}")
            raw.pick(list(EEGMAT_CHANNELS)).reorder_channels(list(EEGMAT_CHANNELS))
            raw.set_channel_types(dict.fromkeys(EEGMAT_CHANNELS, "eeg"), verbose="error")
            raw.set_montage(montage, verbose="error")
            if crop_s is not None and raw.times[-1] > crop_s:
                raw.crop(0.0, crop_s, include_tmax=False)
            events = mne.make_fixed_length_events(raw, id=label + 1, duration=window_s)
            if len(events) == 0:
                raise InputFileError(path, f"shorter than one {window_s:g} s window")
            windows = mne.Epochs(
                raw,
                events,
                {("rest", "arithmetic")[label]: label + 1},
                0.0,
                window_s - 1.0 / raw.info["sfreq"],
                baseline=None,
                preload=True,
                verbose="error",
            )
            epochs.append(windows)
            labels.append(np.full(len(windows), label))
            groups.append(np.full(len(windows), subject))
    return _concatenate(mne, epochs, labels, groups)


def recording_paths(root: str | os.PathLike) -> list[Recording]:
    """Every EDF file of both datasets with its subject, e.g. for training a tokenizer on some subjects.

    Includes eegmmidb's eyes-open/eyes-closed baselines (S001R01/R02) and both eegmat conditions.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputFileError(root, "EEG data folder not found (give its path with --data)")
    recordings = [Recording(p, p.parent.name, "eegmmidb") for p in sorted(root.glob("eegmmidb/S[0-9]*/*.edf"))]
    recordings += [Recording(p, p.name.split("_")[0], "eegmat") for p in sorted(root.glob("eegmat/Subject*.edf"))]
    if not recordings:
        raise InputFileError(root, "no EDF files under eegmmidb/S*/ or eegmat/")
    return recordings


def scale_by_q95(X: np.ndarray) -> np.ndarray:
    """Each row of the last axis divided by the 95th percentile of its absolute value, as float32.

    TFM-Tokenizer's data loaders scale every window and channel this way before tokenising.
    """
    return (X / (np.quantile(np.abs(X), 0.95, axis=-1, keepdims=True) + 1e-8)).astype(np.float32)
