"""The command line shared by the recipes for separation datasets on disk (Libri2Mix, EchoSet).

A dataset module supplies ``read_items(args, split) -> [(mixture, [source 1, source 2]), ...]`` and
its layout's flags; :func:`main` gives it two subcommands with the starter's code behind them:
``train`` (:func:`recipes.separation.train.fit`: PIT SI-SNR, validation SI-SNRi on the validation
split, resume, best weights with their data and command) and ``evaluate``
(:func:`recipes.separation.evaluate.run_evaluation`: SI-SNRi / SDRi of mixture, oracle IRM and
model, overall and by overlap ratio). A root that is not the dataset's layout is one line on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from recipes.separation.evaluate import add_evaluation_flags, run_evaluation
from recipes.separation.train import add_training_flags, create_separator, fit
from tfsignal.io import InputFileError
from tfsignal.train.data import SeparationFolderDataset

ReadItems = Callable[[argparse.Namespace, str], list[tuple[Path, list[Path]]]]


def main(
    argv: list[str] | None,
    module: str,
    doc: str,
    read_items: ReadItems,
    splits: tuple[str, str, str],
    add_layout_flags: Callable[[argparse.ArgumentParser], None],
) -> int:
    """Run ``python -m MODULE {train,evaluate} --root ...``; ``splits`` are the (train, val, test) names."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=doc.split("\n")[0],
        epilog=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a separator on the train split, validating on the val split")
    add_training_flags(train, model="tiger-small", steps=200_000, segment_seconds=3.0)
    train.add_argument("--train-split", default=splits[0], help="(default: %(default)s)")
    train.add_argument("--val-split", default=splits[1], help="(default: %(default)s)")
    evaluate = commands.add_parser("evaluate", help="score mixture, oracle IRM and a model on the test split")
    add_evaluation_flags(evaluate)
    evaluate.add_argument("--split", default=splits[2], help="(default: %(default)s)")
    for sub in (train, evaluate):
        sub.add_argument("--root", required=True, help="the dataset's folder (layout below)")
        add_layout_flags(sub)
        sub.epilog, sub.formatter_class = doc, argparse.RawDescriptionHelpFormatter
    args = parser.parse_args(argv)
    try:
        if args.command == "evaluate":
            items = read_items(args, args.split)
            dataset = SeparationFolderDataset(items, segment_seconds=None, sample_rate=args.sample_rate)
            return run_evaluation(dataset, args, f"{args.root} ({args.split})")
        model = create_separator(args.model, args.n_sources)
        rate = model.sample_rate
        train_set = SeparationFolderDataset(read_items(args, args.train_split), args.segment_seconds, rate, args.seed)
        val_set = SeparationFolderDataset(read_items(args, args.val_split), segment_seconds=None, sample_rate=rate)
    except (InputFileError, FileNotFoundError, ValueError) as err:  # the user's paths or model: one line
        print(f"error: {err}", file=sys.stderr)
        return 2
    data = {"root": str(args.root), "train": args.train_split, "val": args.val_split, "train_mixtures": len(train_set)}
    command = f"python -m {module} " + shlex.join(sys.argv[1:] if argv is None else argv)
    return fit(model, train_set, val_set, args, data, command)
