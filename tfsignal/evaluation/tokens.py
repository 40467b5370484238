"""Decode labels from EEG tokens: tokenise epochs with a fixed tokenizer, count each channel's tokens
into a histogram, and fit a logistic regression on the training subjects.

:func:`score_and_report` is the whole path a recipe runs once its data are read (tokens cached in
``OUT/tokens.npz``, metrics in ``OUT/metrics.json`` and as the last line printed); the pieces
(:func:`tokenize`, :func:`score_tokens`, :func:`evaluate_tokenizer`) serve on their own; tokenizers
load through :func:`tfsignal.tokenizers.load_tokenizer`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tfsignal.io import InputFileError, save_npz, save_text

__all__ = [
    "token_histogram",
    "tokenize",
    "class_counts",
    "score_tokens",
    "evaluate_tokenizer",
    "cached_tokens",
    "report",
    "add_scoring_flags",
    "score_and_report",
]


def token_histogram(n_codes: int):
    """Bag-of-tokens features: per channel, how often each of the ``n_codes`` tokens occurs."""
    from tfsignal.tokenizers import TokenHistogram

    return TokenHistogram(n_codes=n_codes)


def tokenize(X: np.ndarray, tokenizer, sfreq: float, batch_size: int = 256) -> np.ndarray:
    """Tokens (n_epochs, n_channels, n_tokens) of ``X`` (n_epochs, n_channels, n_samples), ``batch_size`` at a time."""
    batches = [tokenizer.transform(X[i : i + batch_size], sfreq=sfreq) for i in range(0, len(X), batch_size)]
    return np.concatenate([np.asarray(b) for b in batches]).astype(np.int64, copy=False)


def class_counts(labels: np.ndarray, class_names) -> dict[str, int]:
    """How many of ``labels`` (indices into ``class_names``) each class has, by name."""
    return {name: int((labels == i).sum()) for i, name in enumerate(class_names)}


def score_tokens(
    train_tokens, y_train, test_tokens, y_test, n_codes: int, class_names, histogram=None, seed: int = 0
) -> dict:
    """Fit histogram features and a logistic regression on train tokens; score the test tokens.

    ``histogram`` is an estimator with ``fit_transform`` / ``transform`` on token arrays (default:
    :class:`tfsignal.tokenizers.TokenHistogram`). Classes are weighted by their inverse frequency,
    as the metrics (balanced accuracy, Cohen's kappa) are.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, cohen_kappa_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(y_train)) < 2:
        raise ValueError(f"the training data hold a single class ({class_names[int(y_train[0])]})")
    histogram = token_histogram(n_codes) if histogram is None else histogram
    features_train = np.asarray(histogram.fit_transform(train_tokens), dtype=np.float64)
    features_test = np.asarray(histogram.transform(test_tokens), dtype=np.float64)
    classifier = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)
    )
    predicted = classifier.fit(features_train, y_train).predict(features_test)
    return {
        "balanced_accuracy": round(float(balanced_accuracy_score(y_test, predicted)), 4),
        "cohen_kappa": round(float(cohen_kappa_score(y_test, predicted)), 4),
        "weighted_f1": round(float(f1_score(y_test, predicted, average="weighted")), 4),
        "n_codes": int(n_codes),
        "train_counts": class_counts(y_train, class_names),
        "test_counts": class_counts(y_test, class_names),
    }


def evaluate_tokenizer(
    X_train, y_train, X_test, y_test, tokenizer, sfreq: float, class_names, histogram=None, seed: int = 0
) -> dict:
    """Tokenise both sets with ``tokenizer`` (any object with transform(X, sfreq=) and n_codes) and score."""
    train_tokens = tokenize(X_train, tokenizer, sfreq)
    test_tokens = tokenize(X_test, tokenizer, sfreq)
    return score_tokens(
        train_tokens, y_train, test_tokens, y_test, tokenizer.n_codes, class_names, histogram=histogram, seed=seed
    )


def cached_tokens(path: Path, settings: dict, compute) -> dict:
    """The arrays ``compute()`` returns, saved to ``path``; read back instead when saved with the same ``settings``."""
    if path.exists():
        with np.load(path) as saved:
            if str(saved["settings"]) == json.dumps(settings, sort_keys=True):
                print(f"reusing the tokens in {path}", file=sys.stderr)
                return {key: saved[key] for key in saved.files if key != "settings"}
    arrays = compute()
    save_npz(path, settings=json.dumps(settings, sort_keys=True), **arrays)
    return arrays


def report(out: Path, summary: dict) -> None:
    """Save ``summary`` to OUT/metrics.json and print it as the last line."""
    save_text(out / "metrics.json", json.dumps(summary, indent=1) + "\n", overwrite=True)
    print(json.dumps(summary))


def add_scoring_flags(parser: argparse.ArgumentParser, tokenizer: str = "tfm") -> None:
    """The flags :func:`score_and_report` reads: ``--out``, ``--tokenizer`` and ``--seed``."""
    parser.add_argument("--out", required=True, help="folder for tokens.npz and metrics.json")
    parser.add_argument(
        "--tokenizer", default=tokenizer, help="shipped tokenizer name or saved folder (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0)


def score_and_report(
    args: argparse.Namespace,
    settings: dict,
    find_data: Callable[[], object],
    prepare: Callable[[], dict],
    class_names,
    dataset: str,
    unit: str,
    started: float,
) -> int:
    """Tokens, scores and the report of a token-decoding recipe; returns the exit code.

    ``args`` holds ``out``, ``tokenizer`` and ``seed``. ``find_data()`` raises InputFileError on a
    wrong root, so that it is reported before any output folder is made. The tokens come from
    OUT/tokens.npz when it was saved with the same ``settings``, else from ``prepare()`` (the
    arrays train/test_tokens, _labels, _subjects and n_codes). A user's mistake is one line on
    stderr and exit code 2. ``unit`` names the examples in the summary ("epochs", "windows").
    """
    out = Path(args.out).expanduser()
    try:
        if out.exists() and not out.is_dir():
            raise InputFileError(out, "is a file; --out takes a folder")
        find_data()
        out.mkdir(parents=True, exist_ok=True)
        data = cached_tokens(out / "tokens.npz", settings, prepare)
        metrics = score_tokens(
            data["train_tokens"],
            data["train_labels"],
            data["test_tokens"],
            data["test_labels"],
            int(data["n_codes"]),
            class_names,
            seed=args.seed,
        )
    except (InputFileError, FileNotFoundError, ValueError, ImportError) as err:
        print(f"error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    summary = {
        "dataset": dataset,
        "tokenizer": args.tokenizer,
        **metrics,
        f"train_{unit}": len(data["train_labels"]),
        f"test_{unit}": len(data["test_labels"]),
        "train_subjects": len(set(data["train_subjects"].tolist())),
        "test_subjects": len(set(data["test_subjects"].tolist())),
        "seconds": round(time.time() - started, 1),
    }
    report(out, summary)
    return 0
