"""Test the pre-trained TSPulse zero-shot: anomaly detection and imputation.

    python -m recipes.series.tspulse.evaluate anomaly
    python -m recipes.series.tspulse.evaluate impute
    python -m recipes.series.tspulse.evaluate impute --weights runs/tspulse/model.json

Both compare the shipped (or --weights) model with the same architecture untrained (random
initialisation, same seed) and with simple baselines computed in the same run; each prints a
table on stderr and one JSON object as its last line on stdout. The series they score were never
seen in pre-training (the train step's corpus leaves them out).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from tfsignal.arguments import recipe_parser, usage_error
from tfsignal.series import stretch
from tfsignal.simulate import synthetic_series

WINDOW = 512  # the model's context
MASK_RATIOS = (0.125, 0.25, 0.375, 0.5)


def load_models(args: argparse.Namespace):
    """(pre-trained, untrained) TSPulse: the weights of --weights, and the same config freshly
    initialised with --seed."""
    from tfsignal import models

    torch.set_num_threads(args.threads)
    try:
        trained = models.load(args.weights)
    except FileNotFoundError as err:
        raise usage_error(str(err)) from None
    torch.manual_seed(args.seed)
    untrained = type(trained)(trained.config).eval()
    return trained, untrained


def sliding_anomaly_score(model, series: np.ndarray, stride: int, batch_size: int = 16) -> np.ndarray:
    """(T,) series -> (T,) the model's anomaly_score over windows of WINDOW steps every ``stride``
    steps (the last window flush with the end), averaged over the windows covering each step."""
    starts = list(range(0, len(series) - WINDOW + 1, stride))
    if starts[-1] != len(series) - WINDOW:
        starts.append(len(series) - WINDOW)
    windows = torch.tensor(np.stack([series[s : s + WINDOW] for s in starts]), dtype=torch.float32)[..., None]
    scores = torch.cat([model.anomaly_score(chunk) for chunk in windows.split(batch_size)]).numpy()  # (K, WINDOW)
    total, count = np.zeros(len(series)), np.zeros(len(series))
    for start, score in zip(starts, scores):
        total[start : start + WINDOW] += score
        count[start : start + WINDOW] += 1
    return total / count


def rolling_zscore(series: np.ndarray, width: int) -> np.ndarray:
    """|x_t - mean| / std of the ``width`` steps before t (0 for the first ``width`` steps)."""
    score = np.zeros(len(series))
    history = np.lib.stride_tricks.sliding_window_view(series[:-1], width)  # (T - width, width): steps t-width..t-1
    score[width:] = np.abs(series[width:] - history.mean(1)) / (history.std(1) + 1e-8)
    return score


def left_discord(series: np.ndarray, width: int, block: int = 1024) -> np.ndarray:
    """Left matrix profile: for each subsequence of ``width`` steps, the z-normalised Euclidean distance
    to its nearest neighbour that ends before it starts; each step gets the distance of the
    subsequence centred on it (edges padded with the nearest value; no left neighbour -> 0)."""
    windows = np.lib.stride_tricks.sliding_window_view(series, width)  # (S, width)
    z = (windows - windows.mean(1, keepdims=True)) / (windows.std(1, keepdims=True) + 1e-8)
    n = len(z)
    profile = np.zeros(n)
    for first in range(0, n, block):
        rows = np.arange(first, min(first + block, n))
        correlation = z[rows] @ z.T / width  # (rows, S) Pearson correlation
        distance = np.sqrt(np.maximum(2 * width * (1 - correlation), 0.0))
        distance[np.arange(n)[None, :] > rows[:, None] - width] = np.inf  # only neighbours ending before
        nearest = distance.min(1)
        profile[rows] = np.where(np.isfinite(nearest), nearest, 0.0)
    score = np.zeros(len(series))
    score[width // 2 : width // 2 + n] = profile
    score[: width // 2] = profile[0]
    score[width // 2 + n :] = profile[-1]
    return score


def rank_of_anomaly(score: np.ndarray, labels: np.ndarray) -> int:
    """1 + the number of normal steps scoring strictly above the best step of the anomaly (1 = found first)."""
    return int((score[labels == 0] > score[labels == 1].max()).sum()) + 1


def anomaly(args: argparse.Namespace) -> int:
    """Zero-shot anomaly detection on UCR InternalBleeding16 (aeon's KDD-TSAD_135, test split: the whole
    7501-step series, its first 1200 steps the normal training part, one labelled anomaly of 12 steps).

    Metrics per detector: PR-AUC (average precision of the per-step scores) and the rank of the
    anomaly: 1 + the number of normal steps scoring above the best-scoring anomalous step, so rank 1
    means the series' highest score lies inside the labelled anomaly. A random score has expected
    PR-AUC equal to the anomaly fraction. Daphnet S06R02E0 ships with no labelled anomaly in aeon
    1.6, so it cannot be scored and is reported as skipped."""
    from aeon.datasets import load_kdd_tsad_135
    from sklearn.metrics import average_precision_score

    from tfsignal.frontends import top_k_periods

    if args.stride < 1 or args.stride > WINDOW:
        raise usage_error(f"--stride must lie in 1..{WINDOW}, got {args.stride}")
    trained, untrained = load_models(args)
    series, labels = load_kdd_tsad_135(split="test")
    normal_part = load_kdd_tsad_135(split="train")[0]
    period = top_k_periods(normal_part[None, :, None], 1)[0][0]  # dominant period of the normal part
    rng = np.random.default_rng(args.seed)
    started = time.time()
    scores = {
        "tspulse_pretrained": sliding_anomaly_score(trained, series, args.stride),
        "tspulse_untrained": sliding_anomaly_score(untrained, series, args.stride),
        "left_discord": left_discord(series, period),
        "rolling_zscore": rolling_zscore(series, 2 * period),
        "random": rng.random(len(series)),
    }
    results = {
        name: {
            "pr_auc": round(float(average_precision_score(labels, score)), 4),
            "rank": rank_of_anomaly(score, labels),
        }
        for name, score in scores.items()
    }
    print(f"InternalBleeding16: {len(series)} steps, anomaly {labels.sum()} steps, period {period}", file=sys.stderr)
    print(f"{'detector':20s} {'PR-AUC':>8s} {'rank':>6s}", file=sys.stderr)
    for name, result in results.items():
        print(f"{name:20s} {result['pr_auc']:8.4f} {result['rank']:6d}", file=sys.stderr)
    summary = {
        "series": "KDD-TSAD_135 (UCR InternalBleeding16)",
        "steps": len(series),
        "anomaly_fraction": round(float(labels.mean()), 5),
        "window": WINDOW,
        "stride": args.stride,
        "period": period,
        "results": results,
        "skipped": {"Daphnet_S06R02E0": "no labelled anomaly in aeon's shipped excerpt"},
        "weights": str(args.weights),
        "seconds": round(time.time() - started, 1),
    }
    print(json.dumps(summary))
    return 0


def imputation_windows(n_per_set: int, seed: int) -> dict[str, np.ndarray]:
    """Name -> (n, WINDOW) z-scored windows never seen in pre-training: TEST splits of GunPoint,
    ArrowHead and ItalyPowerDemand (evenly spaced picks, resampled to WINDOW) and synthetic series
    from an unrelated seed."""
    from aeon.datasets import load_classification

    sets = {}
    for name in ("GunPoint", "ArrowHead", "ItalyPowerDemand"):
        X = load_classification(name, split="test")[0][:, 0]  # (n, T)
        picks = np.linspace(0, len(X) - 1, min(n_per_set, len(X))).astype(int)
        sets[name] = np.stack([stretch(X[i], WINDOW) for i in picks])
    rng = np.random.default_rng(seed)
    sets["synthetic"] = np.stack([synthetic_series(rng, WINDOW) for _ in range(n_per_set)])
    return {name: (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True) for name, x in sets.items()}


def mean_fill(x: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """(n, T) -> each missing step replaced by the mean of its series' observed steps."""
    observed_mean = np.nanmean(np.where(missing, np.nan, x), axis=1, keepdims=True)
    return np.where(missing, observed_mean, x)


def linear_fill(x: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """(n, T) -> missing steps linearly interpolated between observed neighbours (edges: nearest)."""
    t = np.arange(x.shape[1])
    return np.stack([np.interp(t, t[~m], row[~m]) for row, m in zip(x, missing)])


def impute(args: argparse.Namespace) -> int:
    """Zero-shot imputation MSE on z-scored held-out windows, over the hidden steps only, pooled over
    all windows, for hybrid and block masks at 12.5, 25, 37.5 and 50 %."""
    if args.n_per_set < 1:
        raise usage_error(f"--n-per-set must be positive, got {args.n_per_set}")
    trained, untrained = load_models(args)
    started = time.time()
    sets = imputation_windows(args.n_per_set, args.seed + 1000)
    x = np.concatenate(list(sets.values()))  # (n, WINDOW)
    x_tensor = torch.tensor(x, dtype=torch.float32)[..., None]  # (n, WINDOW, 1)

    def model_fill(model, missing: np.ndarray) -> np.ndarray:
        mask = torch.tensor(missing)
        parts = [model.impute(xb, mb) for xb, mb in zip(x_tensor.split(64), mask.split(64))]
        return torch.cat(parts)[..., 0].double().numpy()

    table, per_window = {}, {}
    for mask_type in ("hybrid", "block"):
        for ratio in MASK_RATIOS:
            generator = torch.Generator().manual_seed(args.seed)
            missing = trained.make_mask(len(x), mask_type, ratio, generator=generator).numpy()  # (n, WINDOW)
            fills = {
                "tspulse_pretrained": model_fill(trained, missing),
                "tspulse_untrained": model_fill(untrained, missing),
                "mean": mean_fill(x, missing),
                "linear": linear_fill(x, missing),
            }
            # every window hides the same number of steps, so pooled MSE = mean of per-window MSEs
            errors = {name: ((fill - x) ** 2 * missing).sum(1) / missing.sum(1) for name, fill in fills.items()}
            table[f"{mask_type} {ratio:.1%}"] = {name: round(float(e.mean()), 4) for name, e in errors.items()}
            for name, e in errors.items():
                per_window.setdefault(name, []).append(e)  # (n,) each
    methods = list(next(iter(table.values())))
    print(f"{'mask':14s}" + "".join(f"{m:>20s}" for m in methods), file=sys.stderr)
    for row, values in table.items():
        print(f"{row:14s}" + "".join(f"{values[m]:20.4f}" for m in methods), file=sys.stderr)
    set_of_window = np.concatenate([[name] * len(w) for name, w in sets.items()])  # (n,)
    by_set = {  # mean over the eight masks, per held-out set
        name: {m: round(float(np.mean(per_window[m], 0)[set_of_window == name].mean()), 4) for m in methods}
        for name in sets
    }
    print(f"\n{'set (all masks)':16s}" + "".join(f"{m:>20s}" for m in methods), file=sys.stderr)
    for name, values in by_set.items():
        print(f"{name:16s}" + "".join(f"{values[m]:20.4f}" for m in methods), file=sys.stderr)
    summary = {
        "windows": {name: len(w) for name, w in sets.items()},
        "mse": table,
        "mse_by_set": by_set,
        "mean_over_masks": {m: round(float(np.mean([v[m] for v in table.values()])), 4) for m in methods},
        "weights": str(args.weights),
        "seconds": round(time.time() - started, 1),
    }
    print(json.dumps(summary))
    return 0


def parse_args(argv=None) -> argparse.Namespace:
    parser = recipe_parser(__doc__, prog="python -m recipes.series.tspulse.evaluate")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, sub in (("anomaly", "zero-shot anomaly detection"), ("impute", "zero-shot imputation")):
        q = commands.add_parser(name, help=sub)
        q.add_argument("--weights", default="tspulse", help="shipped name or .safetensors/.json path")
        if name == "anomaly":
            q.add_argument("--stride", type=int, default=64, help="steps between sliding windows")
        else:
            q.add_argument("--n-per-set", type=int, default=100, help="windows per held-out set")
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--threads", type=int, default=1, help="torch threads")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return {"anomaly": anomaly, "impute": impute}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
