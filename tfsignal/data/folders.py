"""Speech corpora as they lie on disk: each layout's reader and the datasets that read them.

- Enhancement: :func:`paired_files` finds the (noisy, clean) pairs of VB-DemandEx and
  DNS-Challenge 2020 copies (:func:`match_pairs` for one pair of folders) and
  :class:`PairedFolderDataset` reads them as ``(noisy, clean)`` float32 tensors (time,).
- Separation: :func:`libri2mix_items` (Libri2Mix), :func:`echoset_items` (EchoSet) and
  :func:`separation_files` (any mixture folder with one folder per source) list
  ``(mixture, [sources])`` paths, which :class:`SeparationFolderDataset` reads as
  ``(mixture (time,), sources (n_sources, time))`` float32 tensors.
- :func:`corpus_files` lists the offline speech corpus (``clean/**.flac``, ``noise/**.flac``) that
  the on-the-fly datasets of :mod:`tfsignal.data.speech` mix.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from tfsignal.io import InputFileError, load_audio

__all__ = [
    "corpus_files",
    "match_pairs",
    "paired_files",
    "PairedFolderDataset",
    "separation_files",
    "libri2mix_items",
    "echoset_items",
    "SeparationFolderDataset",
]

AUDIO_EXTENSIONS = (".wav", ".flac")

PathLike = str | os.PathLike


def _fit_length(x: np.ndarray, length: int) -> np.ndarray:
    return x[:length] if len(x) >= length else np.pad(x, (0, length - len(x)))


def _random_crop(signals: Sequence[np.ndarray], length: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``signals`` (of one length) cut at one random offset to ``length`` samples, zero-padded when shorter."""
    start = int(rng.integers(0, max(0, len(signals[0]) - length) + 1))
    return [_fit_length(x[start:], length) for x in signals]


def corpus_files(root: PathLike) -> tuple[list[Path], list[Path]]:
    """``(clean_files, noise_files)``: the sorted ``clean/**/*.flac`` and ``noise/**/*.flac`` under ``root``."""
    root = Path(root)
    clean = sorted((root / "clean").rglob("*.flac"))
    noise = sorted((root / "noise").rglob("*.flac"))
    if not clean or not noise:
        raise InputFileError(root, "not a speech corpus: expected clean/**/*.flac and noise/**/*.flac")
    return clean, noise


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


_DNS_FILEID = re.compile(r"fileid_(\d+)$")


def match_pairs(noisy_dir: PathLike, clean_dir: PathLike) -> list[tuple[Path, Path]]:
    """Sorted ``(noisy, clean)`` file pairs: same file name, or DNS ``*_fileid_N`` -> ``clean_fileid_N``."""
    noisy_dir, clean_dir = Path(noisy_dir), Path(clean_dir)
    for folder in (noisy_dir, clean_dir):
        if not folder.is_dir():
            raise InputFileError(folder, "no such folder")
    noisy, clean = _audio_files(noisy_dir), _audio_files(clean_dir)
    by_name = {p.name: p for p in clean}
    pairs = [(p, by_name[p.name]) for p in noisy if p.name in by_name]
    if not pairs:
        by_id = {m.group(1): p for p in clean if (m := _DNS_FILEID.search(p.stem))}
        pairs = [(p, by_id[m.group(1)]) for p in noisy if (m := _DNS_FILEID.search(p.stem)) and m.group(1) in by_id]
    if not pairs:
        raise InputFileError(
            noisy_dir, f"no noisy .wav/.flac file has a clean counterpart in {clean_dir} (same name, or DNS fileid_N)"
        )
    if len(pairs) < len(noisy):
        warnings.warn(f"{noisy_dir}: {len(noisy) - len(pairs)} noisy files have no clean counterpart", stacklevel=2)
    return pairs


def paired_files(root: PathLike, train: bool = True) -> list[tuple[Path, Path]]:
    """``(noisy, clean)`` pairs of a VB-DemandEx or DNS-Challenge 2020 copy under ``root``.

    Accepted layouts: ``root/noisy`` + ``root/clean``; or VB-DemandEx's ``noisy_trainset*`` +
    ``clean_trainset*`` (``train=True``) / ``noisy_testset*`` + ``clean_testset*`` (``train=False``),
    several such folder pairs (28spk and 56spk) being read together.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "no such folder")
    if (root / "noisy").is_dir() and (root / "clean").is_dir():
        return match_pairs(root / "noisy", root / "clean")
    kind = "trainset" if train else "testset"
    folders = [
        (noisy, root / ("clean" + noisy.name[len("noisy") :]))
        for noisy in sorted(root.glob(f"noisy_{kind}*"))
        if noisy.is_dir() and (root / ("clean" + noisy.name[len("noisy") :])).is_dir()
    ]
    if not folders:
        raise InputFileError(
            root,
            f"not a recognised layout: expected noisy/ + clean/ or noisy_{kind}*/ + clean_{kind}*/ folders "
            "(VB-DemandEx; DNS-Challenge noisy/ + clean/)",
        )
    return [pair for noisy, clean in folders for pair in match_pairs(noisy, clean)]


class PairedFolderDataset(Dataset):
    """(noisy, clean) pairs from a local VB-DemandEx or DNS-Challenge 2020 copy (layouts: :func:`paired_files`).

    ``train=True`` crops both files at one random offset to ``segment_seconds`` (zero-padding
    shorter files); ``train=False`` returns whole files. Crops depend on ``(seed, epoch, index)``;
    call :meth:`set_epoch` each epoch for new crops.
    """

    def __init__(
        self,
        root: PathLike,
        segment_seconds: float = 2.0,
        sample_rate: int = 16000,
        train: bool = True,
        seed: int = 0,
    ) -> None:
        self.root = Path(root)
        self.segment_length = round(segment_seconds * sample_rate)
        self.sample_rate = sample_rate
        self.train = train
        self.seed = seed
        self.epoch = 0
        self.pairs = paired_files(self.root, train)

    def __len__(self) -> int:
        return len(self.pairs)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        noisy_path, clean_path = self.pairs[index]
        noisy, _ = load_audio(noisy_path, sr=self.sample_rate)
        clean, _ = load_audio(clean_path, sr=self.sample_rate)
        n = min(len(noisy), len(clean))
        noisy, clean = noisy[:n], clean[:n]
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            noisy, clean = _random_crop([noisy, clean], self.segment_length, rng)
        return torch.from_numpy(np.ascontiguousarray(noisy)), torch.from_numpy(np.ascontiguousarray(clean))


def separation_files(mixture_dir: PathLike, source_dirs: Sequence[PathLike]) -> list[tuple[Path, list[Path]]]:
    """``(mixture, [source 1, source 2, ...])`` for every file of ``mixture_dir`` that has a file of
    the same name in each of ``source_dirs`` (Libri2Mix: ``mix_clean/`` with ``s1/`` and ``s2/``)."""
    by_source = [dict(match_pairs(mixture_dir, folder)) for folder in source_dirs]
    return [
        (mix, [found[mix] for found in by_source]) for mix in sorted(by_source[0]) if all(mix in f for f in by_source)
    ]


LIBRI2MIX_SOURCES = ("s1", "s2")


def libri2mix_folder(root: PathLike, split: str, rate_folder: str = "wav16k", mode: str = "min") -> Path:
    """The folder of one Libri2Mix split: ``root/wav16k/min/SPLIT``, or ``root/SPLIT`` when root is that level."""
    root = Path(root)
    for base in (root / rate_folder / mode, root):
        if (base / split).is_dir():
            return base / split
    raise InputFileError(
        root,
        f"not a Libri2Mix folder: no {rate_folder}/{mode}/{split}/ (nor {split}/) with mix_clean/, s1/, s2/ inside",
    )


def libri2mix_items(
    root: PathLike, split: str, mixture: str = "mix_clean", rate_folder: str = "wav16k", mode: str = "min"
) -> list[tuple[Path, list[Path]]]:
    """``(mixture, [s1, s2])`` paths of one Libri2Mix split (Cosentino et al., 2020), as LibriMix's generator
    lays them out (``wav16k/min/{train-100,dev,test}/{mix_clean,mix_both,s1,s2}/ID.wav``).

    When ``metadata/mixture_{split}_{mixture}.csv`` is there, its ``mixture_ID`` column lists the
    mixtures, in its order (the paths in it are where the generator wrote them, so each file is
    looked up under ``root``); otherwise every mixture with an s1/ and s2/ file of the same name is used.
    """
    folder = libri2mix_folder(root, split, rate_folder, mode)
    metadata = folder.parent / "metadata" / f"mixture_{split}_{mixture}.csv"
    if not metadata.exists():
        return separation_files(folder / mixture, [folder / s for s in LIBRI2MIX_SOURCES])
    with open(metadata, newline="") as f:
        ids = [row["mixture_ID"] for row in csv.DictReader(f)]
    items = [(folder / mixture / f"{i}.wav", [folder / s / f"{i}.wav" for s in LIBRI2MIX_SOURCES]) for i in ids]
    missing = [p for mix, sources in items for p in (mix, *sources) if not p.exists()]
    if missing or not items:
        problem = f"{len(missing)} files it lists are missing, e.g. {missing[0]}" if missing else "lists no mixture"
        raise InputFileError(metadata, problem)
    return items


ECHOSET_MIXTURE = "mix.wav"
ECHOSET_SOURCES = ("spk1_reverb.wav", "spk2_reverb.wav")


def echoset_items(root: PathLike, split: str) -> list[tuple[Path, list[Path]]]:
    """``(mix.wav, [spk1_reverb.wav, spk2_reverb.wav])`` of every mixture folder under ``root/split``
    of EchoSet (Xu et al., ICLR 2025): ``{train,val,test}/<mixture id>/``, possibly nested deeper.

    A folder without both reverberant sources is left out; other files (dry sources) are ignored.
    """
    folder = Path(root) / split
    if not folder.is_dir():
        raise InputFileError(root, f"not an EchoSet folder: no {split}/ inside (expected train/, val/, test/)")
    items = [(mix, [mix.parent / s for s in ECHOSET_SOURCES]) for mix in sorted(folder.rglob(ECHOSET_MIXTURE))]
    items = [(mix, sources) for mix, sources in items if all(s.exists() for s in sources)]
    if not items:
        sources = " and ".join(ECHOSET_SOURCES)
        raise InputFileError(folder, f"no mixture folder holding {ECHOSET_MIXTURE} with {sources}")
    return items


class SeparationFolderDataset(Dataset):
    """Fixed mixtures and their sources from files: ``items`` holds ``(mixture, [sources])`` paths
    (from :func:`separation_files` or a recipe's reader of a dataset's layout).

    With ``segment_seconds`` every file of an item is cut at one random offset to that length
    (shorter ones zero-padded), the offset a function of ``(seed, epoch, index)``; call
    :meth:`set_epoch` for new crops. With ``segment_seconds=None`` items are whole (cut to the
    shortest file). :meth:`load` gives an item whole as numpy arrays.
    """

    def __init__(
        self,
        items: Sequence[tuple[PathLike, Sequence[PathLike]]],
        segment_seconds: float | None = 3.0,
        sample_rate: int = 16000,
        seed: int = 0,
    ) -> None:
        if not items:
            raise ValueError("SeparationFolderDataset needs at least one mixture")
        self.items = [(Path(mix), [Path(s) for s in sources]) for mix, sources in items]
        self.segment_length = None if segment_seconds is None else round(segment_seconds * sample_rate)
        self.sample_rate = sample_rate
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(mixture (time,), sources (n_sources, time))`` of item ``index``, whole, at ``sample_rate``."""
        mix_path, source_paths = self.items[index]
        signals = [load_audio(path, sr=self.sample_rate)[0] for path in (mix_path, *source_paths)]
        n = min(len(x) for x in signals)
        return signals[0][:n], np.stack([x[:n] for x in signals[1:]])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        mixture, sources = self.load(index)
        if self.segment_length is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            mixture, *cropped = _random_crop([mixture, *sources], self.segment_length, rng)
            sources = np.stack(cropped)
        return torch.from_numpy(np.ascontiguousarray(mixture)), torch.from_numpy(np.ascontiguousarray(sources))
