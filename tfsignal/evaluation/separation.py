"""Score speech separators on held-out mixtures: SI-SNRi and SDRi, overall and by overlap ratio.

Rows, on the same mixtures:

- ``mixture``: the unprocessed mixture as every estimate (SI-SNRi and SDRi are 0 by definition);
- ``oracle``: ideal ratio masks from the true sources, |S_k| / (sum_j |S_j| + |N|) with N the
  rest of the mixture (noise), through the model's STFT (TIGER's 40 ms Hann window, 10 ms hop
  without a model) and the mixture's phase: what a real-valued mask can reach;
- ``model``: the separator, through :func:`tfsignal.separation.separate` (chunks of 8 s).

Metrics per mixture, averaged over its sources, the estimates matched to the references in the
order with the best mean SI-SNR (permutation-invariant, :func:`tfsignal.metrics.pit`):

- SI-SNR: :func:`tfsignal.metrics.si_sdr` (zero-mean, scale-invariant); SI-SNRi is its gain over
  the mixture's SI-SNR against the same reference.
- SDR: BSS Eval v3's definition (:func:`tfsignal.metrics.sdr`: a 512-tap distortion filter allowed).
- Overlap ratio, measured on the references (:func:`tfsignal.metrics.overlap_ratio`).
- Lone voice: each method is also given the first speaker alone (its reference as the input, the
  other references silent) and scored by the energy share of its loudest output
  (:func:`tfsignal.metrics.louder_share`): 1 when the voice stays on one track, 0.5 for an even
  split of two (the unprocessed mixture); a separator that ships should reach 0.95.

:func:`add_evaluation_flags` and :func:`run_evaluation` give a recipe its evaluation command line:
markdown tables of the means and of the means by overlap ratio, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tfsignal import models
from tfsignal.data.folders import SeparationFolderDataset, separation_files
from tfsignal.frontends import STFT
from tfsignal.io import InputFileError
from tfsignal.metrics import louder_share, overlap_ratio, pit, sdr, si_sdr
from tfsignal.separation import separate

__all__ = [
    "Separator",
    "oracle_irm",
    "score",
    "model_separator",
    "separators",
    "evaluate",
    "print_report",
    "add_evaluation_flags",
    "run_evaluation",
    "prepared_set",
    "add_folder_evaluation_flags",
    "evaluate_folders",
]

Separator = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (mixture, references) -> estimates (S, time)
METRICS = ("si_snri", "sdri", "si_snr", "sdr", "lone_share")
OVERLAP_BINS = (0.25, 0.5, 0.75)  # upper edges; the last bin runs to 100 %


def oracle_irm(mixture: np.ndarray, sources: np.ndarray, stft: STFT) -> np.ndarray:
    """Sources (S, time) estimated with ideal ratio masks |S_k| / (sum_j |S_j| + |N|) on the mixture."""
    residual = mixture - sources.sum(0)  # noise, if any
    signals = torch.from_numpy(np.concatenate([mixture[None], sources, residual[None]]).astype(np.float64))
    spec = stft.stft(signals)  # (S + 2, F, frames)
    magnitudes = spec[1:].abs()
    masks = magnitudes[:-1] / magnitudes.sum(0).clamp_min(1e-12)
    return stft.istft(masks * spec[0], length=mixture.shape[-1]).float().numpy()


def score(estimates: np.ndarray, mixture: np.ndarray, references: np.ndarray) -> dict[str, float]:
    """SI-SNR, SDR and their improvements over ``mixture`` (means over sources, PIT on SI-SNR)."""
    best, perm, matched = pit(si_sdr, estimates[None].astype(np.float64), references[None].astype(np.float64))
    si_snr_mix = float(np.mean(si_sdr(mixture[None], references)))
    sdr_est = float(np.mean([sdr(e, r) for e, r in zip(matched[0], references)]))
    sdr_mix = float(np.mean([sdr(mixture, r) for r in references]))
    si_snr = float(best[0])
    return {"si_snri": si_snr - si_snr_mix, "sdri": sdr_est - sdr_mix, "si_snr": si_snr, "sdr": sdr_est}


def model_separator(name_or_path: str, device: str = "cpu", chunk_seconds: float = 8.0) -> tuple[Separator, object]:
    """``(separator, model)``: a saved or shipped separator run as ``tfsignal separate`` runs it."""
    model = models.load(name_or_path, device=device)
    if getattr(model, "n_sources", None) is None:
        raise ValueError(f"{name_or_path}: not a separation model")

    def run(mixture: np.ndarray, references: np.ndarray) -> np.ndarray:
        if len(references) != model.n_sources:
            raise ValueError(f"{name_or_path} separates {model.n_sources} sources; the data has {len(references)}")
        return separate(model, mixture, model.sample_rate, chunk_seconds, overlap_seconds=chunk_seconds / 4)

    return run, model


def separators(methods: list[str], model_name: str | None, sample_rate: int, device: str = "cpu") -> dict:
    """The ``methods`` by name: ``mixture``, ``oracle`` and ``model`` (which needs ``model_name``)."""
    stft = STFT(round(0.04 * sample_rate), round(0.01 * sample_rate))
    chosen: dict[str, Separator] = {}
    if "model" in methods:
        if not model_name:
            raise ValueError("--model is needed to score the model (or leave 'model' out of --methods)")
        chosen["model"], model = model_separator(model_name, device)
        if model.sample_rate != sample_rate:
            raise ValueError(
                f"{model_name} runs at {model.sample_rate} Hz; score it with --sample-rate {model.sample_rate}"
            )
        stft = STFT(model.config.n_fft, model.config.hop_length) if hasattr(model.config, "n_fft") else stft
    named = {
        "mixture": lambda mixture, references: np.repeat(mixture[None], len(references), 0),
        "oracle": lambda mixture, references: oracle_irm(mixture, references, stft),
    }
    return {m: chosen.get(m) or named[m] for m in methods}


def _bin_name(ratio: float) -> str:
    lower = 0.0
    for upper in OVERLAP_BINS:
        if ratio < upper:
            return f"{lower:.0%}-{upper:.0%}"
        lower = upper
    return f"{lower:.0%}-100%"


def evaluate(dataset: SeparationFolderDataset, methods: dict[str, Separator], max_items: int | None = None) -> dict:
    """Score every method on the first ``max_items`` items of ``dataset`` (whole files).

    Returns ``{"n", "means": {method: {metric: mean}}, "by_overlap": {bin: {"n", method: means}},
    "files": [{"file", "overlap", method: scores}, ...]}``.
    """
    files = []
    n = len(dataset) if max_items is None else min(max_items, len(dataset))
    for index in tqdm(range(n), desc="evaluate", unit="mixture", file=sys.stderr):
        mixture, references = dataset.load(index)
        row = {"file": dataset.items[index][0].name, "overlap": overlap_ratio(references, dataset.sample_rate)}
        lone = np.zeros_like(references)
        lone[0] = references[0]  # the first speaker alone: input and references
        for name, fn in methods.items():
            row[name] = score(np.asarray(fn(mixture, references)), mixture, references)
            row[name]["lone_share"] = louder_share(np.asarray(fn(lone[0], lone)))
        files.append(row)

    def means(rows: list[dict]) -> dict:
        return {m: {k: round(float(np.mean([r[m][k] for r in rows])), 3) for k in METRICS} for m in methods}

    bins: dict[str, list[dict]] = {}
    for row in sorted(files, key=lambda r: r["overlap"]):
        bins.setdefault(_bin_name(row["overlap"]), []).append(row)
    by_overlap = {name: {"n": len(rows), **means(rows)} for name, rows in bins.items()}
    return {"n": len(files), "means": means(files), "by_overlap": by_overlap, "files": files}


def print_report(result: dict, labels: dict[str, str], summary: dict) -> None:
    """Markdown tables of ``result`` (from :func:`evaluate`) on stdout, then ``summary`` + means as JSON."""
    print(f"{result['n']} held-out mixtures; SDR as BSS Eval v3 (512-tap projection)\n")
    header = "| method | SI-SNRi (dB) | SDRi (dB) | SI-SNR (dB) | SDR (dB) | lone voice: louder share |"
    print(header + "\n|---|---|---|---|---|---|")
    for method, m in result["means"].items():
        cells = " | ".join(f"{m[k]:.2f}" for k in METRICS)
        print(f"| {labels.get(method, method)} | {cells} |")
    bins = result["by_overlap"]
    print("\nby overlap ratio (measured on the references): SI-SNRi / SDRi (dB)\n")
    print("| method | " + " | ".join(f"{b} (n={v['n']})" for b, v in bins.items()) + " |\n|---|" + "---|" * len(bins))
    for method in result["means"]:
        cells = [f"{v[method]['si_snri']:.2f} / {v[method]['sdri']:.2f}" for v in bins.values()]
        print(f"| {labels.get(method, method)} | " + " | ".join(cells) + " |")
    print(json.dumps({**summary, "n": result["n"], "results": result["means"], "by_overlap": bins}))


def add_evaluation_flags(parser: argparse.ArgumentParser) -> None:
    """The flags :func:`run_evaluation` reads."""
    parser.add_argument("--model", help="saved model (folder, .json) or shipped name; needed for the 'model' row")
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=["mixture", "oracle", "model"],
        help="rows (default: all; no model without --model)",
    )
    parser.add_argument("--max-items", type=int, help="score only the first N mixtures")
    parser.add_argument("--sample-rate", type=int, default=16000, help="rate to score at (the model's)")
    parser.add_argument("--device", default="cpu", help="torch device of the model (default: %(default)s)")
    parser.add_argument("--report", help="also write every mixture's scores to this JSON file")


def run_evaluation(dataset: SeparationFolderDataset, args: argparse.Namespace, data: str) -> int:
    """Evaluate as the flags of :func:`add_evaluation_flags` ask and print the report."""
    methods = args.methods or (["mixture", "oracle", "model"] if args.model else ["mixture", "oracle"])
    result = evaluate(dataset, separators(methods, args.model, dataset.sample_rate, args.device), args.max_items)
    if args.report:
        Path(args.report).write_text(json.dumps(result, indent=1) + "\n")
    labels = {"mixture": "mixture (unprocessed)", "oracle": "oracle IRM", "model": f"model {args.model}"}
    print_report(result, labels, {"data": data, "model": args.model, "sdr": "bss_eval_v3_512_taps"})
    return 0


def prepared_set(folder: str | Path, n_sources: int, sample_rate: int) -> SeparationFolderDataset:
    """A set of fixed mixtures in ``folder/mix`` with their sources in ``folder/s1`` ... ``s{n_sources}``."""
    folder = Path(folder)
    items = separation_files(folder / "mix", [folder / f"s{k + 1}" for k in range(n_sources)])
    return SeparationFolderDataset(items, segment_seconds=None, sample_rate=sample_rate)


def add_folder_evaluation_flags(parser: argparse.ArgumentParser, test_split: str) -> None:
    """The flags of :func:`evaluate_folders`: ``--root``, ``--split`` and :func:`add_evaluation_flags`."""
    parser.add_argument("--root", required=True, help="the dataset's folder (layout below)")
    parser.add_argument("--split", default=test_split, help="(default: %(default)s)")
    add_evaluation_flags(parser)


def evaluate_folders(args: argparse.Namespace, read_items) -> int:
    """Score mixture, oracle IRM and model on whole mixtures of ``args.split``; ``read_items(args, split)``
    lists them. A root that is not the dataset's layout is one line on stderr and exit code 2."""
    try:
        items = read_items(args, args.split)
        dataset = SeparationFolderDataset(items, segment_seconds=None, sample_rate=args.sample_rate)
        return run_evaluation(dataset, args, f"{args.root} ({args.split})")
    except (InputFileError, FileNotFoundError, ValueError) as err:  # the user's paths or model: one line
        print(f"error: {err}", file=sys.stderr)
        return 2
