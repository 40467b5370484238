"""``tfsignal classify``: predict classes of series with a saved classifier."""

from __future__ import annotations

import argparse
import sys

SERIES_SUFFIXES = {".ts", ".csv", ".npy"}


def add_parser(sub, name: str) -> None:
    parser = sub.add_parser(
        name,
        help="classify time series with a saved model",
        description="Predict one label per series in .ts, .csv or .npy files with a classifier saved by "
        "recipes.series.uea.train --out DIR (or SeriesClassifier.save). For one file, prints one label per line "
        "in file order, or with -o FILE.csv writes index,label rows; for several files (or a folder), prints "
        "file,index,label rows, or with -o FOLDER writes FOLDER/NAME.csv per file. A bad file is reported on one "
        "line and the rest go on.",
        epilog="examples:\n  tfsignal classify runs/japanesevowels JapaneseVowels_TEST.ts\n"
        "  tfsignal classify runs/japanesevowels a.ts b.npy series/ -o labels/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="saved model folder")
    parser.add_argument(
        "data", nargs="+", help="series files or folders (.ts; .csv: one univariate series per row; .npy: (n, [C,] T))"
    )
    parser.add_argument("-o", "--output", help="CSV file (one input) or folder (several) for index,label rows")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from .common import UserError, expand_inputs, plan_outputs

    try:
        from tfsignal.classification import SeriesClassifier
    except ImportError as err:
        raise UserError(f"tfsignal classify needs the series extra (pip install 'tfsignal[series]'): {err}") from None
    if not Path(args.model).is_dir():
        raise UserError(f"{args.model}: no such model folder")
    try:
        clf = SeriesClassifier.load(args.model)
    except (FileNotFoundError, KeyError) as err:
        raise UserError(f"{args.model}: not a saved classifier ({err})") from None
    inputs = expand_inputs(args.data, SERIES_SUFFIXES, what="series")
    outputs = None
    if args.output:
        out = Path(args.output)
        if len(inputs) == 1 and out.suffix and out.suffix.lower() != ".csv" and not out.is_dir():
            raise UserError(f"{out}: labels are written as CSV; name the output NAME.csv or a folder")
        outputs = [p.with_suffix(".csv") for p in plan_outputs(inputs, args.output)]
    return process_files(clf, inputs, outputs, args)


def process_files(clf, inputs, outputs, args) -> int:
    """Classify each input; labels go to stdout (``outputs`` None) or to one CSV file per input."""
    import warnings

    import numpy as np

    from tfsignal.io import InputFileError, save_text
    from tfsignal.series import read_series_file

    from .common import process_batch, warn

    several = len(inputs) > 1
    if outputs is None and several:
        print("file,index,label")

    def work(src, dsts):
        series, labels = read_series_file(src)
        try:
            predicted = clf.predict(series)
        except ValueError as err:  # too long, wrong channel count for this model
            raise InputFileError(src, str(err)) from None
        gaps = [i for i, x in enumerate(series) if np.isnan(x).any()]
        if gaps:  # labelled from the steps they have, as fit treats them; said, not silently done
            warnings.warn(
                f"{src}: {len(gaps)} series with missing (NaN) steps, first series {gaps[0]}; "
                "they are classified from the steps they have",
                RuntimeWarning,
                stacklevel=1,
            )
        if dsts:
            save_text(dsts[0], "index,label\n" + "".join(f"{i},{p}\n" for i, p in enumerate(predicted)), args.overwrite)
        elif several:
            sys.stdout.write("".join(f"{src},{i},{p}\n" for i, p in enumerate(predicted)))
        else:
            sys.stdout.write("".join(f"{p}\n" for p in predicted))
        if labels is not None and len(labels) == len(predicted):
            accuracy = float((predicted.astype(str) == labels.astype(str)).mean())
            warn(f"{src}: accuracy against the file's labels: {accuracy:.4f} ({len(labels)} series)")

    jobs = [(src, [] if outputs is None else [dst]) for src, dst in zip(inputs, outputs or inputs)]
    return process_batch(jobs, work, args.overwrite)
