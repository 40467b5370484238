"""Train and evaluate a TIGER separator on a local copy of EchoSet (Xu et al., ICLR 2025, with TIGER).

    python -m recipes.separation.echoset train --root /data/EchoSet --out runs/echoset --model tiger-large
    python -m recipes.separation.echoset evaluate --root /data/EchoSet --model runs/echoset/best.json

EchoSet pairs two speakers in simulated rooms (occluding objects, wall materials) with noise, at
random overlap ratios; the targets are each speaker's reverberant speech. Layout read (one folder
per mixture, as the authors' archive unpacks and as their JusperLee/SPMamba process_echoset.py
reads it):

    EchoSet/{train,val,test}/<mixture id>/mix.wav
    EchoSet/{train,val,test}/<mixture id>/spk1_reverb.wav, spk2_reverb.wav

Mixture folders may be nested deeper; every ``mix.wav`` under a split is used with the
``spk1_reverb.wav`` and ``spk2_reverb.wav`` beside it (other files, such as dry sources, are
ignored). Training crops --segment-seconds (default 3 s) at random; validation uses the first
--val-clips val mixtures; evaluation scores whole test mixtures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recipes.separation.folders import main as folders_main
from tfsignal.io import InputFileError

MIXTURE = "mix.wav"
SOURCES = ("spk1_reverb.wav", "spk2_reverb.wav")


def echoset_items(root: str | Path, split: str) -> list[tuple[Path, list[Path]]]:
    """``(mix.wav, [spk1_reverb.wav, spk2_reverb.wav])`` of every mixture folder under ``root/split``."""
    folder = Path(root) / split
    if not folder.is_dir():
        raise InputFileError(root, f"not an EchoSet folder: no {split}/ inside (expected train/, val/, test/)")
    items = [(mix, [mix.parent / s for s in SOURCES]) for mix in sorted(folder.rglob(MIXTURE))]
    items = [(mix, sources) for mix, sources in items if all(s.exists() for s in sources)]
    if not items:
        raise InputFileError(folder, f"no mixture folder holding {MIXTURE} with {' and '.join(SOURCES)}")
    return items


def add_layout_flags(parser: argparse.ArgumentParser) -> None:
    """EchoSet has one layout: no flags."""


def read_items(args: argparse.Namespace, split: str) -> list[tuple[Path, list[Path]]]:
    return echoset_items(args.root, split)


def main(argv: list[str] | None = None) -> int:
    return folders_main(
        argv, "recipes.separation.echoset", __doc__, read_items, ("train", "val", "test"), add_layout_flags
    )


if __name__ == "__main__":
    sys.exit(main())
