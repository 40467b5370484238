"""``tfsignal classify``: predict classes of series with a saved classifier."""

from __future__ import annotations

import sys


def add_parser(sub, name: str) -> None:
    parser = sub.add_parser(
        name,
        help="classify time series with a saved model",
        description="Predict one label per series in a .ts, .csv or .npy file with a classifier saved by "
        "recipes.series.uea.train --out DIR (or SeriesClassifier.save). Prints one label per line, in file order; "
        "with -o, writes them to a CSV file (index,label) instead.",
        epilog="example: tfsignal classify runs/japanesevowels JapaneseVowels_TEST.ts",
    )
    parser.add_argument("model", help="saved model folder")
    parser.add_argument("data", help="series file (.ts, .csv: one univariate series per row, .npy: (n, [C,] T))")
    parser.add_argument("-o", "--output", help="write index,label rows to this CSV file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from tfsignal.io import InputFileError, check_output_path, save_text
    from tfsignal.series import SeriesFileError, read_series_file

    from .common import UserError

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
    if args.output and Path(args.output).resolve() == Path(args.data).resolve():
        raise UserError(f"{args.output}: is the input file; choose another output")
    if args.output:  # refuse before the work, not after it
        try:
            check_output_path(args.output, overwrite=args.overwrite)
        except InputFileError as err:
            raise UserError(str(err)) from None
    try:
        series, labels = read_series_file(args.data)
        predicted = clf.predict(series)
    except (SeriesFileError, ValueError) as err:
        raise UserError(f"{args.data}: {err}" if not str(err).startswith(str(args.data)) else str(err)) from None
    lines = [str(label) for label in predicted]
    if args.output:
        rows = "index,label\n" + "".join(f"{i},{p}\n" for i, p in enumerate(lines))
        try:
            save_text(args.output, rows, overwrite=args.overwrite)
        except InputFileError as err:
            raise UserError(str(err)) from None
    else:
        sys.stdout.write("\n".join(lines) + "\n")
    if labels is not None and len(labels) == len(predicted):
        accuracy = float((predicted.astype(str) == labels.astype(str)).mean())
        print(f"accuracy against the file's labels: {accuracy:.4f} ({len(labels)} series)", file=sys.stderr)
    return 0
