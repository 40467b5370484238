"""Train and evaluate a TIGER separator on a local copy of Libri2Mix (Cosentino et al., 2020).

    python -m recipes.separation.libri2mix train --root /data/Libri2Mix --out runs/libri2mix --model tiger-small
    python -m recipes.separation.libri2mix evaluate --root /data/Libri2Mix --model runs/libri2mix/best.json

Layout, as LibriMix's generator writes it (--root is the Libri2Mix folder, or its wav16k/min):

    Libri2Mix/wav16k/min/{train-100,train-360,dev,test}/{mix_clean,mix_both,mix_single,s1,s2,noise}/ID.wav
    Libri2Mix/wav16k/min/metadata/mixture_{split}_{mix_clean,mix_both}.csv

--mixture mix_clean (the default: the two speakers alone, the published benchmark) or mix_both
(with WHAM! noise; the targets stay s1 and s2). When the metadata CSV is there, its mixture_ID
column lists the mixtures (the paths in it are where the generator wrote them, so each file is
looked up under --root); otherwise every mixture with an s1/ and s2/ file of the same name is used.
--rate-folder and --mode choose wav8k / wav16k and min / max. Training crops --segment-seconds
(default 3 s) at random; validation uses the first --val-clips dev mixtures; evaluation scores whole
test mixtures (3000 in the full set; --max-items for fewer).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from recipes.separation.folders import main as folders_main
from tfsignal.io import InputFileError
from tfsignal.train.data import separation_files

SOURCES = ("s1", "s2")


def split_folder(root: str | Path, split: str, rate_folder: str = "wav16k", mode: str = "min") -> Path:
    """The folder of one split: ``root/wav16k/min/SPLIT``, or ``root/SPLIT`` when root is that level."""
    root = Path(root)
    for base in (root / rate_folder / mode, root):
        if (base / split).is_dir():
            return base / split
    raise InputFileError(
        root,
        f"not a Libri2Mix folder: no {rate_folder}/{mode}/{split}/ (nor {split}/) with mix_clean/, s1/, s2/ inside",
    )


def libri2mix_items(
    root: str | Path, split: str, mixture: str = "mix_clean", rate_folder: str = "wav16k", mode: str = "min"
) -> list[tuple[Path, list[Path]]]:
    """``(mixture, [s1, s2])`` paths of one split, in the order of its metadata CSV when there is one."""
    folder = split_folder(root, split, rate_folder, mode)
    metadata = folder.parent / "metadata" / f"mixture_{split}_{mixture}.csv"
    if not metadata.exists():
        return separation_files(folder / mixture, [folder / s for s in SOURCES])
    with open(metadata, newline="") as f:
        ids = [row["mixture_ID"] for row in csv.DictReader(f)]
    items = [(folder / mixture / f"{i}.wav", [folder / s / f"{i}.wav" for s in SOURCES]) for i in ids]
    missing = [p for mix, sources in items for p in (mix, *sources) if not p.exists()]
    if missing or not items:
        problem = f"{len(missing)} files it lists are missing, e.g. {missing[0]}" if missing else "lists no mixture"
        raise InputFileError(metadata, problem)
    return items


def add_layout_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mixture", choices=["mix_clean", "mix_both"], default="mix_clean")
    parser.add_argument("--rate-folder", choices=["wav16k", "wav8k"], default="wav16k")
    parser.add_argument("--mode", choices=["min", "max"], default="min")


def read_items(args: argparse.Namespace, split: str) -> list[tuple[Path, list[Path]]]:
    return libri2mix_items(args.root, split, args.mixture, args.rate_folder, args.mode)


def main(argv: list[str] | None = None) -> int:
    splits = ("train-100", "dev", "test")
    return folders_main(argv, "recipes.separation.libri2mix", __doc__, read_items, splits, add_layout_flags)


if __name__ == "__main__":
    sys.exit(main())
