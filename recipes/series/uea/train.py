"""Train and test a series classifier on a UEA/UCR dataset, next to MiniRocket on the same split.

    python -m recipes.series.uea.train --model mptsnet --dataset JapaneseVowels
    python -m recipes.series.uea.train --model mptsnet --dataset Heartbeat --data-dir ~/data/Multivariate_ts

Datasets come from aeon: the ones it ships (BasicMotions, JapaneseVowels, ArrowHead, GunPoint,
ItalyPowerDemand, ...) or a local folder holding NAME/NAME_TRAIN.ts and NAME/NAME_TEST.ts. The
number of epochs is chosen by cross-validation on the training split; the test split is only
scored at the end. The last line printed is one JSON object:
{"dataset", "model", "accuracy", "minirocket_accuracy", "seconds", "params", ...}.

--paper-protocol instead trains one network on all of train for --epochs epochs and adds the
original MPTSNet script's figure: the best of the per-epoch test accuracies ("best_test_accuracy",
with "test_by_epoch"). That figure is chosen on test; it is there to compare with the paper.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from tfsignal.arguments import recipe_parser

# Named model families and the configuration each trains by default on CPU.
MODELS = {"mptsnet": "mptsnet-cpu", "tspulse": "tspulse"}
# Families fine-tuned from shipped pre-trained weights (unless --from-scratch), and the options their
# fine-tuning adds: TSPulse pre-trains one channel at a time, without dropout, and mixes channels and
# drops out (the published 0.2) only when fine-tuned.
PRETRAINED = {"tspulse": ("tspulse", {"decoder_channel_mixing": True, "dropout": 0.2, "head_dropout": 0.2})}


def parse_args(argv=None) -> argparse.Namespace:
    parser = recipe_parser(__doc__)
    parser.add_argument("--model", choices=sorted(MODELS), default="mptsnet")
    parser.add_argument("--config", help="registered configuration (default: the family's CPU configuration)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a network config field, e.g. --set head=mean (repeatable; VALUE read as JSON if it parses)",
    )
    parser.add_argument("--dataset", required=True, help="UEA/UCR dataset name, e.g. JapaneseVowels")
    parser.add_argument("--data-dir", help="folder with NAME/NAME_TRAIN.ts (default: aeon's shipped data)")
    parser.add_argument("--epochs", type=int, default=100, help="most epochs (early stopping on validation)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--patience", type=int, default=20)
    parser.add_argument("--val-folds", type=int, default=4, help="cross-validation folds of train that pick the epochs")
    parser.add_argument(
        "--selection",
        choices=["loss", "accuracy"],
        default="loss",
        help="what picks the epoch on the held-out folds: pooled cross-entropy (default) or accuracy",
    )
    parser.add_argument(
        "--no-refit",
        action="store_true",
        help="with --val-folds 1: keep the best validation network, no refit",
    )
    parser.add_argument(
        "--ensemble",
        type=int,
        default=1,
        metavar="N",
        help="train the final network N times (seeds SEED, SEED+1, ...) and average their probabilities",
    )
    parser.add_argument(
        "--fold-ensemble",
        action="store_true",
        help="predict with the mean of the final network and the cross-validation networks (no extra training)",
    )
    parser.add_argument(
        "--paper-protocol",
        action="store_true",
        help="also report the original MPTSNet script's number: train on all of train for --epochs epochs, "
        "score test after every epoch and take the best (a test-selected figure, for comparison only)",
    )
    parser.add_argument("--from-scratch", action="store_true", help="do not start from shipped pre-trained weights")
    parser.add_argument("--no-minirocket", action="store_true", help="skip the MiniRocket baseline")
    parser.add_argument("--out", help="save the trained classifier to this folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave default)")
    return parser.parse_args(argv)


def load_split(name: str, split: str, data_dir: str | None):
    """(list of (C, T) float arrays, labels) of one split, from aeon's data or a local .ts folder."""
    from aeon.datasets import load_classification, load_from_ts_file

    from tfsignal.series import as_series_list

    if data_dir:
        path = Path(data_dir).expanduser() / name / f"{name}_{split.upper()}.ts"
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        X, y = load_from_ts_file(str(path))
    else:
        X, y = load_classification(name, split=split)
    return as_series_list(X), np.asarray(y)


def parse_override(item: str) -> tuple[str, object]:
    """``"head=mean"`` -> ("head", "mean"); the value is read as JSON when it parses (numbers, lists)."""
    field, sep, value = item.partition("=")
    if not sep or not field:
        raise ValueError(f"--set {item}: expected FIELD=VALUE")
    try:
        return field, json.loads(value)
    except json.JSONDecodeError:
        return field, value


def minirocket_accuracy(train, y_train, test, y_test, seed: int) -> float:
    """aeon's MiniRocket classifier on the same split (series zero-padded to one length)."""
    from aeon.classification.convolution_based import MiniRocketClassifier

    from tfsignal.series import pad

    length = max(max(x.shape[1] for x in train), max(x.shape[1] for x in test))
    Xtr = pad(train, length)[0].transpose(0, 2, 1).astype(np.float64)  # (n, C, T)
    Xte = pad(test, length)[0].transpose(0, 2, 1).astype(np.float64)
    clf = MiniRocketClassifier(random_state=seed).fit(Xtr, y_train)
    return float((clf.predict(Xte) == y_test).mean())


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from tfsignal import models
    from tfsignal.classification import SeriesClassifier

    try:
        train, y_train = load_split(args.dataset, "train", args.data_dir)
        test, y_test = load_split(args.dataset, "test", args.data_dir)
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"{args.dataset}: cannot load ({str(err).splitlines()[0]})", file=sys.stderr)
        return 2
    config = args.config or MODELS[args.model]
    pretrained, options = None, None
    if args.model in PRETRAINED and not args.from_scratch:
        pretrained, options = PRETRAINED[args.model]
        if pretrained not in models.pretrained():
            print(f"no shipped {pretrained!r} weights; use --from-scratch", file=sys.stderr)
            return 2
    if args.paper_protocol and args.fold_ensemble:
        print("--paper-protocol trains no cross-validation networks: no --fold-ensemble", file=sys.stderr)
        return 2
    try:
        overrides = dict(parse_override(item) for item in args.set)
        if overrides:
            models.create(config, **overrides)  # an unknown field or value is refused before any training
    except (TypeError, ValueError) as err:
        print(f"--set: {err}", file=sys.stderr)
        return 2
    if overrides:
        options = {**(options or {}), **overrides}
    started = time.time()
    clf = SeriesClassifier(
        config,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        patience=args.patience,
        selection=args.selection,
        val_folds=0 if args.paper_protocol else args.val_folds,
        refit=not args.no_refit,
        ensemble=args.ensemble,
        fold_ensemble=args.fold_ensemble,
        seq_len=max(x.shape[1] for x in train + test),  # lengths only: JapaneseVowels' test runs longer
        pretrained=pretrained,
        model_options=options,
        seed=args.seed,
    ).fit(train, y_train, eval_set=(test, y_test) if args.paper_protocol else None)
    accuracy = float(clf.score(test, y_test))
    seconds = time.time() - started
    single = None  # for an ensemble, also its first network alone (the same run's single-model figure)
    if clf.n_networks_ > 1:
        single = float(np.mean(clf.predict(test, networks=1) == y_test))
    if args.out:
        clf.save(args.out)
    baseline = None
    if not args.no_minirocket:
        baseline = minirocket_accuracy(train, y_train, test, y_test, args.seed)
    summary = {
        "dataset": args.dataset,
        "model": config,
        "pretrained": pretrained,
        "accuracy": round(accuracy, 4),
        "minirocket_accuracy": None if baseline is None else round(baseline, 4),
        "seconds": round(seconds, 1),
        "params": clf.n_params_,
        "networks": clf.n_networks_,
        "final_network_accuracy": None if single is None else round(single, 4),
        "selected_epoch": clf.best_epoch_,
        "selection": None if args.paper_protocol else args.selection,
        "val_accuracy": None if args.paper_protocol else round(clf.val_accuracy_, 4),
        "val_loss": None if args.paper_protocol else round(clf.val_loss_, 4),
        "periods": clf.periods_,
        "train": len(train),
        "test": len(test),
    }
    if args.paper_protocol:  # "accuracy" stays the last epoch's; the best epoch was picked on test
        curve = clf.eval_accuracy_
        best = int(np.argmax(curve))
        summary.update(best_test_accuracy=round(curve[best], 4), best_test_epoch=best + 1)
        summary["test_by_epoch"] = [round(a, 4) for a in curve]
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
