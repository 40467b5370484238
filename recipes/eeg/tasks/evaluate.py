"""Decode EEG on held-out subjects: imagined left/right fist (eegmmidb) or rest/mental arithmetic (eegmat).

    python -m recipes.eeg.tasks.evaluate --task motor_imagery --methods csp_lda,bandpower_lr
    python -m recipes.eeg.tasks.evaluate --task mental_arithmetic --data ~/data/eeg --tokenizer runs/tfm

Tasks (loaders in tfsignal.eeg_datasets, unfiltered EEG; --data holds eegmmidb/ and eegmat/):
  motor_imagery      eegmmidb runs R04/R08/R12, 0-4 s after each cue, T1 (left fist) = 0, T2 (right) = 1
  mental_arithmetic  eegmat, 19 channels, non-overlapping 4 s windows, rest = 0, arithmetic = 1
Protocol: leave-one-subject-out for both tasks (6 and 10 folds), so every fold scores one subject
that no part of the method saw, and per-fold numbers are per-subject numbers; --folds K switches to
K-fold GroupKFold over subjects. Balanced accuracy and accuracy are reported per fold and as mean ±
std over folds (numpy's std, ddof=0; chance is 0.5). A table goes to stderr; the last line on
stdout is one JSON object {"task", "protocol", "methods": {name: {"balanced_accuracy", ...,
"folds": [...]}}, "skipped": {name: reason}, ...}, also written to OUT/TASK.json.

Methods (METHODS below; add one by adding a builder):
  csp_lda       8-30 Hz band-pass, CSP (6 log-variance components, Ledoit-Wolf shrinkage) + LDA
  bandpower_lr  log Welch power in delta/theta/alpha/beta/gamma per channel + scaling + logistic regression
  tfm_hist_lr   pre-trained TFMTokenizer (--tokenizer, never refitted) + TokenHistogram + logistic regression;
                reported as skipped, with the reason, when the tokenizer cannot be loaded
  tfm_transformer  the same tokens + a small transformer classifier (token embedding from the codebook)
  meggpt_head   sample-level tokens (--sample-tokenizer) + MEG-GPT (meg-gpt-tiny, trained from scratch per
                fold) with its classification head on 320 ms windows, averaged over each epoch
The tokenizers are fixed, so the token methods tokenise every epoch once and all folds share the tokens.
The shipped tokenizer was trained without labels on eegmat/eegmmidb except subjects Subject08,
Subject09, S005 and S006; only the folds of those subjects are free of any self-supervised exposure.

Data: EEG Motor Movement/Imagery Dataset (Schalk, McFarland, Hinterberger, Birbaumer and Wolpaw,
"BCI2000: a general-purpose brain-computer interface (BCI) system", IEEE Trans. Biomed. Eng. 51(6),
2004) and EEG During Mental Arithmetic Tasks (Zyma, Tukaev, Seleznov, Kiyono, Popov, Chernykh and
Shpenkov, "Electroencephalograms during mental arithmetic task performance", Data 4(1):14, 2019),
both distributed by PhysioNet (Goldberger et al., "PhysioBank, PhysioToolkit, and PhysioNet",
Circulation 101(23), 2000) under the Open Data Commons Attribution licence 1.0.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.signal import butter, sosfiltfilt, welch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from tfsignal.arguments import recipe_parser
from tfsignal.eeg_datasets import load_mental_arithmetic, load_motor_imagery
from tfsignal.io import InputFileError, save_text
from tfsignal.tokenizers import load_tokenizer

# A method: (epochs_train, y_train, epochs_test) -> predicted labels of epochs_test.
Method = Callable[..., np.ndarray]
# The EEG data folder the project keeps beside the checkout (not the working directory); --data overrides it.
DEFAULT_ROOT = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "eeg"
# Frequency bands of bandpower_lr, in Hz; gamma stops below eegmat's 50 Hz notch.
BANDS = {"delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0), "gamma": (30.0, 45.0)}


class MethodUnavailable(RuntimeError):
    """A method that cannot run here (e.g. its tokenizer is missing); it is reported as skipped."""


def microvolts(epochs) -> np.ndarray:
    """(n_epochs, n_channels, n_times) samples in µV, which keeps covariances far from float underflow."""
    return epochs.get_data(copy=True) * 1e6


def band_pass(x: np.ndarray, sample_rate: float, low: float, high: float, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass along the last axis, applied to each epoch on its own."""
    sos = butter(order, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, x, axis=-1)


def csp_lda(epochs_train, y_train, epochs_test) -> np.ndarray:
    """Common spatial patterns of 8-30 Hz (mu and beta) activity + linear discriminant analysis."""
    import mne
    from mne.decoding import CSP

    sample_rate = epochs_train.info["sfreq"]
    x_train = band_pass(microvolts(epochs_train), sample_rate, 8.0, 30.0)
    x_test = band_pass(microvolts(epochs_test), sample_rate, 8.0, 30.0)
    classifier = make_pipeline(CSP(n_components=6, reg="ledoit_wolf", log=True), LinearDiscriminantAnalysis())
    with mne.utils.use_log_level("error"):
        return classifier.fit(x_train, y_train).predict(x_test)


def log_band_power(x: np.ndarray, sample_rate: float) -> np.ndarray:
    """(n_epochs, n_channels * n_bands) log10 mean Welch power per band (bands above Nyquist left out)."""
    freqs, psd = welch(x, fs=sample_rate, nperseg=min(x.shape[-1], int(2 * sample_rate)), axis=-1)  # (E, C, F)
    bands = [(low, high) for low, high in BANDS.values() if high <= sample_rate / 2]
    power = np.stack([psd[..., (freqs >= low) & (freqs < high)].mean(-1) for low, high in bands], axis=-1)
    return np.log10(power + 1e-12).reshape(len(x), -1)  # (E, C * bands)


def bandpower_lr(epochs_train, y_train, epochs_test) -> np.ndarray:
    """Log band power per channel, standardised, + logistic regression."""
    sample_rate = epochs_train.info["sfreq"]
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    classifier.fit(log_band_power(microvolts(epochs_train), sample_rate), y_train)
    return classifier.predict(log_band_power(microvolts(epochs_test), sample_rate))


class TokenMethod(NamedTuple):
    """A method on the tokens of a fixed (pre-trained, never refitted) tokenizer.

    :func:`evaluate` calls ``tokenize`` once on all epochs and gives each fold's share of the tokens
    to ``predict(tokens_train, y_train, tokens_test)``: the tokens do not depend on the fold.
    """

    tokenize: Callable[..., np.ndarray]
    predict: Method


@functools.lru_cache(maxsize=8)
def cached_tokenizer(kind: str, name_or_path: str):
    """:func:`tfsignal.tokenizers.load_tokenizer` of ``kind`` ("tfm" or "sample") and ``name_or_path``,
    once per run: methods on the same tokenizer share the object and so the tokens (:func:`evaluate`).

    Raises MethodUnavailable, which has the method skipped with the reason, if it cannot load.
    """
    try:
        return load_tokenizer(name_or_path, kind=kind)
    except Exception as err:  # not installed, not written yet, or no such tokenizer: skip the method, say why
        detail = str(err).strip().splitlines()[0] if str(err).strip() else ""
        name = {"tfm": "TFM", "sample": "sample"}[kind]
        raise MethodUnavailable(
            f"cannot load {name} tokenizer {name_or_path!r} ({type(err).__name__}: {detail})"
        ) from None


def token_hist_lr(tokenizer) -> TokenMethod:
    """Bag-of-tokens + logistic regression on top of an already fitted tokenizer.

    Only the histogram's kept codes and the regression are fitted on each fold's training subjects.
    """
    from tfsignal.tokenizers.histogram import TokenHistogram

    def predict(tokens_train, y_train, tokens_test) -> np.ndarray:
        pipeline = Pipeline(
            [
                ("hist", TokenHistogram(n_codes=tokenizer.n_codes, sublinear=True)),
                ("lr", LogisticRegression(max_iter=2000)),
            ]
        )
        return pipeline.fit(tokens_train, y_train).predict(tokens_test)

    return TokenMethod(tokenizer.transform, predict)


def token_transformer(tokenizer) -> TokenMethod:
    """TFM tokens + :class:`TokenTransformerClassifier` whose token
    embedding starts from the tokenizer's codebook, as in TFM-Tokenizer's downstream model."""
    from tfsignal.tokenizers import TokenTransformerClassifier

    def predict(tokens_train, y_train, tokens_test) -> np.ndarray:
        codebook = tokenizer.network_.quantizer.codebook.numpy()
        return TokenTransformerClassifier(codebook=codebook).fit(tokens_train, y_train).predict(tokens_test)

    return TokenMethod(tokenizer.transform, predict)


def meggpt_head(tokenizer, steps: int = 300, seed: int = 0) -> TokenMethod:
    """Sample-level tokens + MEG-GPT (``meg-gpt-tiny`` with one channel embedding per electrode) and
    its classification head, trained from scratch on random 80-sample (320 ms) windows of the
    training epochs; a test epoch's class probabilities are averaged over its windows."""
    import torch
    import torch.nn.functional as F

    from tfsignal import models
    from tfsignal.train.schedules import constant
    from tfsignal.train.trainer import TrainConfig, Trainer

    def windows(tokens: np.ndarray, context: int) -> torch.Tensor:  # (E, C, T) -> (E, n, C, context)
        n = tokens.shape[-1] // context
        cut = tokens[..., : n * context].reshape(*tokens.shape[:2], n, context)
        return torch.from_numpy(cut.transpose(0, 2, 1, 3).astype(np.int64))

    def predict(train, y_train, test) -> np.ndarray:
        torch.manual_seed(seed)
        classes, labels = np.unique(y_train, return_inverse=True)
        model = models.create(
            "meg-gpt-tiny", n_channels=train.shape[1], vocab_size=tokenizer.n_codes, n_classes=len(classes)
        )
        context = model.config.context
        train_windows, labels = windows(train, context), torch.from_numpy(labels)
        generator = torch.Generator().manual_seed(seed)

        def batches(pass_number: int):  # endless: 16 random windows of random training epochs, with their labels
            while True:
                picked = torch.randint(len(train_windows), (16,), generator=generator)
                window = torch.randint(train_windows.shape[1], (16,), generator=generator)
                yield train_windows[picked, window], labels[picked]

        config = TrainConfig.in_process(
            steps=steps,
            lr=1e-3,
            weight_decay=0.05,
            grad_clip=None,
            progress_bar=False,
        )
        loss_fn = lambda net, batch: F.cross_entropy(net.classify(batch[0]), batch[1])  # noqa: E731
        Trainer(model, loss_fn, batches, config, schedule=constant).fit()
        model.eval()
        with torch.inference_mode():
            test_windows = windows(test, context)  # (E, n, C, context)
            probs = model.classify(test_windows.flatten(0, 1)).softmax(-1).view(len(test), -1, len(classes))
        return classes[probs.mean(1).argmax(-1).numpy()]

    return TokenMethod(tokenizer.transform, predict)


# name -> builder(args) -> Method or TokenMethod. A builder raises MethodUnavailable to have its method skipped.
METHODS: dict[str, Callable[[argparse.Namespace], Method | TokenMethod]] = {
    "csp_lda": lambda args: csp_lda,
    "bandpower_lr": lambda args: bandpower_lr,
    "tfm_hist_lr": lambda args: token_hist_lr(cached_tokenizer("tfm", args.tokenizer)),
    "tfm_transformer": lambda args: token_transformer(cached_tokenizer("tfm", args.tokenizer)),
    "meggpt_head": lambda args: meggpt_head(cached_tokenizer("sample", args.sample_tokenizer)),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = recipe_parser(__doc__)
    parser.add_argument("--task", required=True, choices=["motor_imagery", "mental_arithmetic"])
    parser.add_argument(
        "--data", default=str(DEFAULT_ROOT), help="folder holding eegmmidb/ and eegmat/ (default: %(default)s)"
    )
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from {', '.join(METHODS)}")
    parser.add_argument("--tokenizer", default="tfm", help="TFMTokenizer name or path for the tfm_* methods")
    parser.add_argument("--sample-tokenizer", default="sample", help="SampleTokenizer name or path for meggpt_head")
    parser.add_argument(
        "--folds", type=int, default=0, help="GroupKFold folds over subjects (0: leave one subject out)"
    )
    parser.add_argument("--tmin", type=float, default=0.0, help="motor_imagery: epoch start after the cue (s)")
    parser.add_argument("--tmax", type=float, default=4.0, help="motor_imagery: epoch end after the cue (s)")
    parser.add_argument("--window", type=float, default=4.0, help="mental_arithmetic: window length (s)")
    parser.add_argument("--out", default="runs/eeg_tasks", help="folder for TASK.json ('' to write nothing)")
    return parser.parse_args(argv)


def load_task(args: argparse.Namespace):
    if args.task == "motor_imagery":
        return load_motor_imagery(args.data, tmin=args.tmin, tmax=args.tmax)
    return load_mental_arithmetic(args.data, window_s=args.window)


def evaluate(
    method: Method | TokenMethod, epochs, y: np.ndarray, subjects: np.ndarray, splitter, tokens: dict | None = None
) -> dict:
    """Scores of ``method`` on every fold of ``splitter`` (subjects as groups), and their mean and std.

    ``tokens`` (tokenize function -> tokens of ``epochs``) carries tokens from one method to the next.
    """
    folds = []
    started = time.time()
    if isinstance(method, TokenMethod):
        tokens = {} if tokens is None else tokens
        if method.tokenize not in tokens:
            tokens[method.tokenize] = method.tokenize(epochs)
        inputs, predict = tokens[method.tokenize], method.predict
    else:
        inputs, predict = epochs, method
    for train, test in splitter.split(y, y, groups=subjects):
        predicted = np.asarray(predict(inputs[train], y[train], inputs[test]))
        if predicted.shape != (len(test),):
            raise RuntimeError(f"a method returned predictions shaped {predicted.shape} for {len(test)} epochs")
        folds.append(
            {
                "test_subjects": sorted(set(subjects[test].tolist())),
                "n_test": int(len(test)),
                "balanced_accuracy": round(float(balanced_accuracy_score(y[test], predicted)), 4),
                "accuracy": round(float(accuracy_score(y[test], predicted)), 4),
            }
        )
    result = {}
    for metric in ("balanced_accuracy", "accuracy"):
        values = np.array([fold[metric] for fold in folds])
        result[metric] = round(float(values.mean()), 4)
        result[f"{metric}_std"] = round(float(values.std()), 4)
    return {**result, "seconds": round(time.time() - started, 1), "folds": folds}


def print_table(summary: dict) -> None:
    lines = [
        f"{summary['task']}: {summary['protocol']}, {summary['n_epochs']} epochs of {summary['n_channels']} channels "
        f"x {summary['n_times']} samples at {summary['sample_rate']:g} Hz",
        "| method | balanced accuracy | accuracy | seconds |",
        "|---|---|---|---|",
    ]
    for name, r in summary["methods"].items():
        lines.append(
            f"| {name} | {r['balanced_accuracy']:.3f} ± {r['balanced_accuracy_std']:.3f} "
            f"| {r['accuracy']:.3f} ± {r['accuracy_std']:.3f} | {r['seconds']:.1f} |"
        )
    for name, reason in summary["skipped"].items():
        lines.append(f"| {name} | skipped: {reason} | | |")
    if summary["methods"]:
        names = list(summary["methods"])
        lines += ["", "balanced accuracy per fold", "| test subjects | " + " | ".join(names) + " |"]
        lines.append("|---" * (len(names) + 1) + "|")
        for i, fold in enumerate(summary["methods"][names[0]]["folds"]):
            scores = " | ".join(f"{summary['methods'][n]['folds'][i]['balanced_accuracy']:.3f}" for n in names)
            lines.append(f"| {', '.join(fold['test_subjects'])} | {scores} |")
    print("\n".join(lines), file=sys.stderr)


def main(argv=None) -> int:
    args = parse_args(argv)
    names = [name.strip() for name in args.methods.split(",") if name.strip()]
    unknown = [name for name in names if name not in METHODS]
    if unknown or not names:
        print(
            f"unknown method {', '.join(unknown) or '(none given)'}; choose from {', '.join(METHODS)}", file=sys.stderr
        )
        return 2
    if args.folds < 0 or args.folds == 1:
        print(f"--folds must be 0 (leave one subject out) or at least 2, got {args.folds}", file=sys.stderr)
        return 2
    started = time.time()
    try:
        epochs, y, subjects = load_task(args)
    except (InputFileError, ImportError) as err:
        print(str(err).splitlines()[0], file=sys.stderr)
        return 2
    n_subjects = len(set(subjects.tolist()))
    if n_subjects < 2 or args.folds > n_subjects:
        print(
            f"{args.data}: {n_subjects} subject(s) cannot be split into {args.folds or 'subject'} folds",
            file=sys.stderr,
        )
        return 2
    if args.folds:
        splitter, protocol = GroupKFold(args.folds), f"{args.folds}-fold GroupKFold over {n_subjects} subjects"
    else:
        splitter, protocol = LeaveOneGroupOut(), f"leave-one-subject-out over {n_subjects} subjects"
    results, skipped, tokens = {}, {}, {}
    for name in names:
        try:
            method = METHODS[name](args)
        except MethodUnavailable as err:
            skipped[name] = str(err)
            continue
        results[name] = evaluate(method, epochs, y, subjects, splitter, tokens)
        print(f"{name}: balanced accuracy {results[name]['balanced_accuracy']:.3f}", file=sys.stderr)
    summary = {
        "task": args.task,
        "data": str(args.data),
        "protocol": protocol,
        "n_epochs": int(len(y)),
        "n_subjects": n_subjects,
        "n_channels": len(epochs.ch_names),
        "n_times": len(epochs.times),
        "sample_rate": float(epochs.info["sfreq"]),
        "class_counts": np.bincount(y).tolist(),
        "chance_balanced_accuracy": 0.5,
        "methods": results,
        "skipped": skipped,
        "seconds": round(time.time() - started, 1),
    }
    print_table(summary)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        save_text(out / f"{args.task}.json", json.dumps(summary, indent=2) + "\n", overwrite=True)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
