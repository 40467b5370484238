"""Splits that hold whole groups out: speakers, noise recordings and subjects.

Every split depends only on the names it is given and a seed, so a split can be rebuilt anywhere
from the same files. No group lands in two parts:

- :func:`speaker_split` cuts speech files by speaker (:func:`speaker_id`), :func:`file_split` noise
  files by recording within each noise family, :func:`corpus_splits` both for a speech corpus
  (kept in a recipe's ``splits.json`` by :func:`saved_corpus_splits`, read back by
  :func:`read_corpus_splits`);
- :func:`split_subjects` holds out whole subjects of EEG/MEG recordings.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tfsignal.data.folders import corpus_files
from tfsignal.io import InputFileError, save_text

__all__ = [
    "speaker_id",
    "speaker_split",
    "file_split",
    "corpus_splits",
    "saved_corpus_splits",
    "read_corpus_splits",
    "split_subjects",
]

PathLike = str | os.PathLike
CORPUS_FRACTIONS = (0.8, 0.1, 0.1)  # train, val, test shares of a corpus's speakers and noise recordings


_SPEAKER_PATTERNS = (
    re.compile(r"^(\d+)-\d+-\d+$"),  # LibriSpeech: speaker-chapter-utterance
    re.compile(r"^(p\d+)_\d+"),  # VCTK: p225_003
    re.compile(r"(reader_\d+)"),  # DNS-Challenge clean speech: ..._reader_06709_...
)


def speaker_id(path: PathLike) -> str:
    """Speaker of a speech file: the id in a LibriSpeech / VCTK / DNS file name, else the parent folder's name.

    A recognised id is used alone (not with its folder), so one speaker copied into two folders is
    still one speaker; an unrecognised folder (e.g. ``ljspeech/``) is taken as a single speaker.
    """
    path = Path(path)
    for pattern in _SPEAKER_PATTERNS:
        match = pattern.search(path.stem)
        if match:
            return match.group(1)
    return path.parent.name


def _counts(n: int, fractions: Sequence[float], at_least_one: bool) -> tuple[int, int, int]:
    """Sizes (train, val, test) of ``n`` units; val and test get one each when asked and possible."""
    total = sum(fractions)
    n_val, n_test = (round(n * f / total) for f in fractions[1:])
    if at_least_one:
        n_val = max(n_val, 1) if fractions[1] > 0 else 0
        n_test = max(n_test, 1) if fractions[2] > 0 else 0
    n_val = min(n_val, max(0, n - 1 - n_test))
    return n - n_val - n_test, n_val, n_test


def _split_groups(
    groups: dict[str, list], fractions: Sequence[float], rng: np.random.Generator, at_least_one: bool
) -> tuple[list, list, list]:
    keys = sorted(groups)
    keys = [keys[i] for i in rng.permutation(len(keys))]
    n_train, n_val, _ = _counts(len(keys), fractions, at_least_one)
    parts = (keys[:n_train], keys[n_train : n_train + n_val], keys[n_train + n_val :])
    return tuple(sorted((f for k in part for f in groups[k]), key=str) for part in parts)


def speaker_split(
    files: Sequence[PathLike], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[list, list, list]:
    """Split speech files into (train, val, test) by speaker (:func:`speaker_id`): no speaker is in two parts.

    Speakers are sorted, then shuffled with ``seed``, then cut by ``fractions`` of the speaker count,
    so the result depends only on the file names and the seed.
    """
    groups: dict[str, list] = {}
    for f in files:
        groups.setdefault(speaker_id(f), []).append(f)
    return _split_groups(groups, fractions, np.random.default_rng(seed), at_least_one=len(groups) >= 3)


def _recording_id(path: Path) -> str:
    # ESC-50/ESC-10 clips named fold-freesoundid-take (1-172649-A) are takes of one recording: keep them together.
    match = re.match(r"^(\d+-\d+)-[A-Z]$", path.stem)
    return match.group(1) if match else path.stem


def file_split(
    files: Sequence[PathLike], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[list, list, list]:
    """Split noise files into (train, val, test) per recording, stratified by parent folder (noise family).

    Each family is split on its own, so every family with at least 3 recordings has at least one in
    train, val and test; smaller families go to train whole. Takes cut from one recording (ESC's
    ``1-172649-A``, ``-B``, ...) stay together so no recording is heard in training and testing.
    """
    families: dict[str, dict[str, list]] = {}
    for f in files:
        path = Path(f)
        families.setdefault(str(path.parent), {}).setdefault(_recording_id(path), []).append(f)
    train, val, test = [], [], []
    for family in sorted(families):
        # A generator per family, so adding a family leaves the others' splits unchanged.
        rng = np.random.default_rng([seed, zlib.crc32(Path(family).name.encode())])
        recordings = families[family]
        if len(recordings) < 3:
            train += [f for fs in recordings.values() for f in fs]
            continue
        parts = _split_groups(recordings, fractions, rng, at_least_one=True)
        for whole, part in zip((train, val, test), parts):
            whole += part
    return tuple(sorted(part, key=str) for part in (train, val, test))


def corpus_splits(corpus: PathLike, seed: int = 0, fractions: tuple[float, float, float] = CORPUS_FRACTIONS) -> dict:
    """Train / val / test parts of a speech corpus (``clean/**.flac`` by speaker, ``noise/**.flac`` by recording).

    Returns ``{"seed", "fractions", "clean": {part: paths}, "noise": {part: paths}}`` with the paths
    relative to ``corpus`` (POSIX style), as a recipe writes it to ``splits.json``. A folder that is
    not a speech corpus raises :class:`tfsignal.io.InputFileError`.
    """
    corpus = Path(corpus)
    clean, noise = corpus_files(corpus)
    clean_parts = speaker_split(clean, fractions, seed)
    noise_parts = file_split(noise, fractions, seed)
    names = ("train", "val", "test")
    return {
        "seed": seed,
        "fractions": list(fractions),
        "clean": {name: [p.relative_to(corpus).as_posix() for p in part] for name, part in zip(names, clean_parts)},
        "noise": {name: [p.relative_to(corpus).as_posix() for p in part] for name, part in zip(names, noise_parts)},
    }


def saved_corpus_splits(corpus: PathLike, out: PathLike, seed: int = 0, overwrite: bool = False) -> tuple[dict, bool]:
    """``(splits, written)``: the :func:`corpus_splits` saved in ``out/splits.json``, or, when there are
    none there or ``overwrite``, new ones written there (atomically; the corpus is checked first)."""
    path = Path(out) / "splits.json"
    if path.exists() and not overwrite:
        return json.loads(path.read_text()), False
    splits = corpus_splits(corpus, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_text(path, json.dumps(splits, indent=1) + "\n", overwrite=True)
    return splits, True


def read_corpus_splits(data: PathLike, prepare_command: str) -> dict:
    """The ``splits.json`` a prepare step wrote into ``data``; :class:`tfsignal.io.InputFileError` naming
    ``prepare_command`` when it is missing."""
    path = Path(data) / "splits.json"
    if not path.exists():
        raise InputFileError(path, f"missing; run {prepare_command} first")
    return json.loads(path.read_text())


def split_subjects(subjects, test_fraction: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """``(train, test)`` subject ids: the distinct ids of ``subjects``, sorted, shuffled with ``seed``,
    and the first ``test_fraction`` of them held out (at least one in each part).

    ``subjects`` may repeat ids (one per epoch or recording); the result is the same for a given seed.
    """
    ids = sorted(set(np.asarray(subjects).tolist()))
    if len(ids) < 2:
        raise ValueError(f"need at least 2 subjects to split into train and test (two subjects or more), found {ids}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(ids))
    n_test = min(len(ids) - 1, max(1, round(test_fraction * len(ids))))
    test = sorted(ids[i] for i in order[:n_test])
    return [s for s in ids if s not in test], test
