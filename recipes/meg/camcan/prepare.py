"""Tokenise Cam-CAN resting-state MEG parcel time courses for MEG-GPT training.

    python -m recipes.meg.camcan.prepare --root ~/data/camcan/src --out runs/camcan
    python -m recipes.meg.camcan.prepare --root ~/data/camcan/npy --out runs/camcan --max-subjects 50

Data: Cam-CAN (Shafto et al., 2014, BMC Neurology 14:204; Taylor et al., 2017, NeuroImage
144:262-269), eyes-closed resting-state MEG, available from the Cambridge Centre for Ageing and
Neuroscience only under a data-use agreement (camcan-archive.mrc-cbu.cam.ac.uk); the recipe never
downloads it. MEG-GPT (Huang et al., 2025, arXiv:2510.18080) trains on 612 Cam-CAN subjects'
source-reconstructed, parcellated time courses; --root is a folder of such time courses, one
file per subject, made with OHBA's osl-ephys pipeline (LCMV beamformer, 52 parcels, 250 Hz).

Layout: --root is searched recursively for either kind of file (FIF files win when both are there):

    <subject>/lcmv-parc-raw.fif          osl-ephys output (also <subject>/parc/lcmv-parc-raw.fif);
    <subject>/sflip-lcmv-parc-raw.fif    its sign-flipped version, preferred when both are there
    <subject>/<subject>_sflip_lcmv-parc-raw.fif   (any name ending in "parc-raw.fif")
    <subject>.npy                         numpy array (n_samples, n_parcels), as osl-dynamics saves

The FIF files hold the parcels as MNE "misc" channels beside a stim channel and mark bad segments
with annotations, which are left out, as osl-dynamics does when it reads them (picks="misc",
reject_by_annotation="omit"; facts from osl-ephys/osl-dynamics example scripts). A subject's id is
the "sub-..." part of its path when there is one, otherwise its folder (FIF) or file name (numpy).

Each subject's parcels are standardised (zero mean, unit variance over time, as osl-dynamics'
"standardize" step), --test-fraction of the subjects are held out, and every subject is tokenised
(--tokenizer, default the shipped "sample": one token per time point and parcel). Written to
--out, as numpy archives that ``python -m recipes.meg.meggpt.train --data PATH.npz`` reads:

    train_tokens.npz, test_tokens.npz
      tokens     int array (n_parcels, total tokens): the subjects' token arrays side by side in time
      lengths    int array (n_subjects,): tokens per subject (np.split(tokens, np.cumsum(lengths)[:-1], axis=1))
      subjects   str array (n_subjects,), the ids in the order of tokens
      sfreq      float, the sampling rate the tokens were made at (250.0)
      n_codes    int, the tokenizer's codebook size
      settings   str, JSON of the options that made the file (a rerun with the same ones skips the work)

The last line printed is one JSON object: {"train_subjects", "test_subjects", "n_codes", ...}.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tfsignal.arguments import positive_int, recipe_parser
from tfsignal.data.splits import split_subjects
from tfsignal.io import InputFileError, load_eeg, save_npz
from tfsignal.tokenizers import load_tokenizer

SFREQ = 250  # Hz
N_PARCELS = 52
FIF_SUFFIX = "parc-raw.fif"


class Recording(NamedTuple):
    path: Path
    subject: str


def subject_id(path: Path, root: Path) -> str:
    """The "sub-..." part of ``path`` below ``root``; else its folder (FIF files) or file name (numpy)."""
    relative = path.relative_to(root)
    for part in (*relative.parent.parts, relative.name):
        match = re.match(r"sub-[A-Za-z0-9]+", part)
        if match:
            return match.group(0)
    if path.suffix == ".npy":
        return path.stem
    parents = [part for part in relative.parent.parts if part != "parc"]
    return parents[-1] if parents else path.name.removesuffix(".fif")


def find_recordings(root: str | Path) -> list[Recording]:
    """One parcellated file per subject under ``root``: ``*parc-raw.fif`` files, or else ``*.npy`` files."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputFileError(root, f"no such folder (expected one *{FIF_SUFFIX} or *.npy file per subject)")
    files = sorted(root.rglob(f"*{FIF_SUFFIX}")) or sorted(root.rglob("*.npy"))
    if not files:
        raise InputFileError(
            root,
            f"no parcel time courses: expected osl-ephys' <subject>/lcmv-parc-raw.fif (any *{FIF_SUFFIX}) "
            "or <subject>.npy arrays (n_samples, n_parcels)",
        )
    chosen: dict[str, Path] = {}
    for path in files:
        subject = subject_id(path, root)
        other = chosen.get(subject)
        if other is None or ("sflip" in path.name and "sflip" not in other.name):
            chosen[subject] = path
        elif "sflip" in path.name or "sflip" not in other.name:
            raise InputFileError(path, f"a second file for subject {subject} (the first is {other})")
    return [Recording(path, subject) for subject, path in sorted(chosen.items())]


def read_parcels(path: str | Path, n_parcels: int | None = N_PARCELS, sfreq: int = SFREQ) -> np.ndarray:
    """Parcel time courses (n_parcels, n_samples) float32 of one file, at ``sfreq`` Hz (bad segments left out).

    A numpy file carries no sampling rate: it is taken to be ``sfreq`` already.
    """
    path = Path(path)
    if path.suffix == ".npy":
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise InputFileError(path, f"not a readable numpy array ({err})") from None
        if data.ndim != 2 or not np.issubdtype(data.dtype, np.number):
            raise InputFileError(path, f"expected a 2-D numeric array (n_samples, n_parcels), got {data.shape}")
        if n_parcels is None or data.shape[1] == n_parcels:
            data = data.T  # osl-dynamics stores time first
        elif data.shape[0] != n_parcels:
            raise InputFileError(path, f"expected {n_parcels} parcels, got an array shaped {data.shape}")
    else:
        from tfsignal.frontends.resample import resample

        raw = load_eeg(path)
        if "misc" not in raw.get_channel_types():
            raise InputFileError(path, "has no parcel channels (osl-ephys stores parcels as 'misc' channels)")
        data = raw.get_data(picks="misc", reject_by_annotation="omit")
        rate = raw.info["sfreq"]
        if rate != round(rate):
            raise InputFileError(path, f"sampling rate {rate} Hz is not a whole number")
        data = resample(data, int(rate), sfreq, axis=-1)
        if n_parcels is not None and data.shape[0] != n_parcels:
            raise InputFileError(path, f"expected {n_parcels} parcels, found {data.shape[0]} misc channels")
    if data.shape[1] < 2 or not np.isfinite(data).all():
        raise InputFileError(path, "holds fewer than 2 samples or NaN/Inf values")
    return np.ascontiguousarray(data, dtype=np.float32)


def standardize(x: np.ndarray) -> np.ndarray:
    """Each parcel (row) of one subject shifted and scaled to zero mean and unit variance over time."""
    std = x.std(axis=1, keepdims=True)
    if (std == 0).any():
        raise ValueError(f"parcel {int(np.argmin(std[:, 0]))} is flat")
    return ((x - x.mean(axis=1, keepdims=True)) / std).astype(np.float32)


def load_camcan(
    root: str | Path, max_subjects: int | None = None, n_parcels: int | None = N_PARCELS, sfreq: int = SFREQ
) -> tuple[list[np.ndarray], list[str]]:
    """``(time courses, subject ids)``: one standardised (n_parcels, n_samples) float32 array per subject."""
    recordings = find_recordings(root)[:max_subjects]
    return [load_subject(r.path, n_parcels, sfreq) for r in recordings], [r.subject for r in recordings]


def load_subject(path: Path, n_parcels: int | None = N_PARCELS, sfreq: int = SFREQ) -> np.ndarray:
    try:
        return standardize(read_parcels(path, n_parcels, sfreq))
    except ValueError as err:
        if isinstance(err, InputFileError):
            raise
        raise InputFileError(path, str(err)) from None


def tokenize_subject(x: np.ndarray, tokenizer, sfreq: float = SFREQ) -> np.ndarray:
    """Tokens (n_parcels, n_tokens) of one subject's (n_parcels, n_samples) time courses, in the smallest int type."""
    tokens = np.asarray(tokenizer.transform(x, sfreq=float(sfreq)))
    return tokens.astype(np.int16 if tokenizer.n_codes <= np.iinfo(np.int16).max + 1 else np.int32)


def save_tokens(path: Path, tokens: list[np.ndarray], subjects: list[str], sfreq: float, n_codes: int, settings: str):
    """One of the two archives described in the module's docstring."""
    save_npz(
        path,
        tokens=np.concatenate(tokens, axis=1),
        lengths=np.array([t.shape[1] for t in tokens], dtype=np.int64),
        subjects=np.asarray(subjects, dtype=str),
        sfreq=np.float64(sfreq),
        n_codes=np.int64(n_codes),
        settings=settings,
    )


def saved_with(path: Path, settings: str) -> dict | None:
    """The subjects and sizes stored in ``path`` when it was written with ``settings``; None otherwise."""
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as saved:
        if str(saved["settings"]) != settings:
            return None
        return {"subjects": saved["subjects"].tolist(), "n_codes": int(saved["n_codes"])}


def parse_args(argv=None) -> argparse.Namespace:
    parser = recipe_parser(__doc__, prog="python -m recipes.meg.camcan.prepare")
    parser.add_argument("--root", required=True, help="folder of parcellated files, one per subject")
    parser.add_argument("--out", required=True, help="folder for train_tokens.npz and test_tokens.npz")
    parser.add_argument(
        "--tokenizer", default="sample", help="shipped tokenizer name or saved folder (default: sample)"
    )
    parser.add_argument("--max-subjects", type=positive_int, help="use only the first N subjects (default: all)")
    parser.add_argument("--test-fraction", type=float, default=0.1, help="subjects held out (default: %(default)s)")
    parser.add_argument("--n-parcels", type=positive_int, default=N_PARCELS, help="(default: %(default)s)")
    parser.add_argument("--sfreq", type=positive_int, default=SFREQ, help="rate in Hz (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.time()
    out = Path(args.out).expanduser()
    paths = {"train": out / "train_tokens.npz", "test": out / "test_tokens.npz"}
    settings = json.dumps(
        {
            "root": str(Path(args.root).expanduser().resolve()),
            **{k: getattr(args, k) for k in ("tokenizer", "max_subjects", "test_fraction", "n_parcels", "sfreq")},
            "seed": args.seed,
        },
        sort_keys=True,
    )
    try:
        if out.exists() and not out.is_dir():
            raise InputFileError(out, "is a file; --out takes a folder")
        recordings = find_recordings(args.root)[: args.max_subjects]
        train_ids, test_ids = split_subjects([r.subject for r in recordings], args.test_fraction, args.seed)
        saved = {split: saved_with(path, settings) for split, path in paths.items()}
        if all(saved.values()):
            print(f"reusing {paths['train']} and {paths['test']}", file=sys.stderr)
            n_codes = saved["train"]["n_codes"]
        else:
            tokenizer = load_tokenizer(args.tokenizer, kind="sample")
            n_codes = int(tokenizer.n_codes)
            out.mkdir(parents=True, exist_ok=True)
            path_of = {r.subject: r.path for r in recordings}
            for split, ids in (("train", train_ids), ("test", test_ids)):
                tokens = [
                    tokenize_subject(load_subject(path_of[s], args.n_parcels, args.sfreq), tokenizer, args.sfreq)
                    for s in ids
                ]
                save_tokens(paths[split], tokens, ids, args.sfreq, n_codes, settings)
    except (InputFileError, FileNotFoundError, ValueError, ImportError) as err:
        print(f"error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    summary = {
        "dataset": "camcan",
        "tokenizer": args.tokenizer,
        "n_codes": n_codes,
        "sfreq": float(args.sfreq),
        "n_parcels": args.n_parcels,
        "train_subjects": len(train_ids),
        "test_subjects": len(test_ids),
        "train_file": str(paths["train"]),
        "test_file": str(paths["test"]),
        "seconds": round(time.time() - started, 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
