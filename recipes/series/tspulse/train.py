"""Pre-train TSPulse on a mixed corpus of real and synthetic series.

    python -m recipes.series.tspulse.train --minutes 40 --out models/pretrained/tspulse
    python -m recipes.series.tspulse.evaluate anomaly   # then test it zero-shot

Corpus (pretrain): windows of 512 steps, half cut from the series aeon ships offline and half
synthetic. Real series longer than 512 steps give windows of 256, 512 or 1024 steps resampled to 512;
shorter ones are resampled (linear interpolation) to 512; each channel is its own series. Left out
for the zero-shot evaluations: the TEST splits of BasicMotions, JapaneseVowels, ArrowHead, GunPoint and
ItalyPowerDemand, the anomaly series (KDD-TSAD_135 = UCR InternalBleeding16, Daphnet) and aeon's
GunPoint segmentation series. Synthetic series sum sine / square / sawtooth / triangle waves (random
periods, phases, amplitudes), linear or exponential trends, level shifts and white, AR(1) or
random-walk noise (tfsignal.simulate.synthetic_series). The model kept is the one with the lowest
loss on fixed held-out windows.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from tfsignal.arguments import recipe_parser, usage_error
from tfsignal.series import stretch
from tfsignal.simulate import synthetic_series
from tfsignal.train.schedules import warmup_cosine_steps
from tfsignal.train.trainer import TrainConfig, Trainer

WINDOW = 512  # the model's context
TEST_ONLY_SETS = ("BasicMotions", "JapaneseVowels", "ArrowHead", "GunPoint", "ItalyPowerDemand")  # train split only
BOTH_SPLIT_SETS = ("ACSF1", "OSULeaf", "PickupGestureWiimoteZ")


# ---------------------------------------------------------------------------------------- corpus


def cut_window(series: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A (WINDOW,) window of a 1-D series: short series resampled whole, long ones cut at a random
    place over 256, 512 or 1024 steps (at most the series) and resampled to WINDOW steps."""
    if len(series) <= WINDOW:
        return stretch(series, WINDOW)
    span = min(int(WINDOW * rng.choice([0.5, 1.0, 2.0])), len(series))
    start = rng.integers(0, len(series) - span + 1)
    return stretch(series[start : start + span], WINDOW)


def real_series() -> dict[str, list[np.ndarray]]:
    """Name -> list of 1-D float arrays from aeon's shipped data (see the module docstring)."""
    import aeon.datasets as ds

    corpus: dict[str, list[np.ndarray]] = {}

    def add(name: str, arrays) -> None:  # arrays: iterable of (C, T) or (T,)
        for array in arrays:
            for channel in np.atleast_2d(np.asarray(array, dtype=np.float64)):
                channel = channel[np.isfinite(channel)]
                if len(channel) >= 8 and channel.std() > 0:
                    corpus.setdefault(name, []).append(channel)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in TEST_ONLY_SETS:
            add(name, ds.load_classification(name, split="train")[0])
        for name in BOTH_SPLIT_SETS:
            for split in ("train", "test"):
                add(name, ds.load_classification(name, split=split)[0])
        for split in ("train", "test"):
            add("Covid3Month", ds.load_regression("Covid3Month", split=split)[0])
        for loader in ("load_airline", "load_lynx", "load_shampoo_sales", "load_solar", "load_PBS_dataset"):
            add(loader[5:], [ds.__dict__[loader]()])
        add("uschange", ds.load_uschange())  # (5, 187): five series
        add("ElectricDevices", [ds.load_electric_devices_segmentation()[0].to_numpy()])
    return corpus


class Corpus:
    """Draws training batches: each window real (dataset uniform, then series uniform) or synthetic."""

    def __init__(self, series: dict[str, list[np.ndarray]], synthetic_share: float = 0.5) -> None:
        self.series = series
        self.names = sorted(series)
        self.synthetic_share = synthetic_share

    def batch(self, size: int, rng: np.random.Generator) -> torch.Tensor:
        windows = []
        for _ in range(size):
            if not self.names or rng.uniform() < self.synthetic_share:
                windows.append(synthetic_series(rng, WINDOW))
            else:
                pool = self.series[self.names[rng.integers(len(self.names))]]
                windows.append(cut_window(pool[rng.integers(len(pool))], rng))
        return torch.tensor(np.stack(windows), dtype=torch.float32)[..., None]  # (B, WINDOW, 1)


def split_validation(series: dict[str, list[np.ndarray]], every: int = 20):
    """Every ``every``-th series of each dataset with at least ``every`` series goes to validation."""
    train, val = {}, {}
    for name, pool in series.items():
        if len(pool) >= every:
            val[name] = pool[::every]
            train[name] = [s for i, s in enumerate(pool) if i % every]
        else:
            train[name] = pool
    return train, val


# -------------------------------------------------------------------------------------- pretrain


def validation_loss(model, batches: list[torch.Tensor]) -> float:
    """Mean total pre-training loss over fixed batches with fixed masks (hybrid and block, ratio 0.3)."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i, x in enumerate(batches):
            mask_type = ("hybrid", "block")[i % 2]
            g = torch.Generator().manual_seed(i)
            total += model.pretrain_loss(x, mask_type=mask_type, mask_ratio=0.3, generator=g)["total"].item()
    model.train()
    return total / len(batches)


def pretrain(args: argparse.Namespace) -> int:
    """Pre-train with the library's loop: linear warm-up over ``--warmup`` steps, then cosine decay from
    ``--lr`` to a twentieth of it over the budget; the weights with the lowest validation loss are kept."""
    from tqdm import tqdm

    from tfsignal import models

    if args.minutes is None and args.steps is None:
        raise usage_error("give --minutes, --steps or both")
    if args.batch_size < 1 or (args.steps is not None and args.steps < 1) or (args.minutes or 1) <= 0:
        raise usage_error("--batch-size, --steps and --minutes must be positive")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_series, val_series = split_validation(real_series())
    corpus = Corpus(train_series)
    val_rng = np.random.default_rng(args.seed + 1)  # never used for training batches
    val_batches = [Corpus(val_series).batch(64, val_rng) for _ in range(4)]
    model = models.create("tspulse", dropout=args.dropout, head_dropout=args.dropout)
    rng = np.random.default_rng(args.seed)
    n_windows = {name: len(pool) for name, pool in train_series.items()}
    print(f"corpus: {sum(n_windows.values())} real series in {len(n_windows)} sets + synthetic", file=sys.stderr)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    started = time.time()

    def batches(epoch: int):  # a batch of windows with its mask type and ratio
        while True:
            mask_type = ("hybrid", "block")[int(rng.integers(2))]
            mask_ratio = float(rng.uniform(0.1, 0.55))  # spans the evaluated ratios 12.5..50 %
            yield corpus.batch(args.batch_size, rng), mask_type, mask_ratio

    def loss_fn(net, batch) -> dict:
        x, mask_type, mask_ratio = batch
        return net.pretrain_loss(x, mask_type=mask_type, mask_ratio=mask_ratio)

    def val_fn(net) -> dict:
        val = validation_loss(net, val_batches)
        tqdm.write(f"step {trainer.step} ({(time.time() - started) / 60:.1f} min): val loss {val:.4f}", file=sys.stderr)
        return {"val_loss": val}

    def best_meta(metrics: dict) -> dict:
        """What the saved model card says: the training run so far, the corpus and the command."""
        training = {
            "steps": trainer.step,
            "val_loss": round(metrics["val_loss"], 4),
            "minutes": round((time.time() - started) / 60, 1),
            "batch_size": args.batch_size,
            "lr": args.lr,
            "warmup": args.warmup,
            "dropout": args.dropout,
            "threads": args.threads,
            "seed": args.seed,
            "mask": "hybrid or block per batch, ratio uniform in [0.1, 0.55]",
        }
        corpus_meta = {
            "real_series": n_windows,
            "description": " ".join(__doc__.split("\n\n")[2].split()),
            "synthetic_share": corpus.synthetic_share,
        }
        command = "python -m recipes.series.tspulse.train " + shlex.join(
            sys.argv[1:] if args.argv is None else args.argv
        )
        return {"corpus": corpus_meta, "training": training, "command": command}

    config = TrainConfig.in_process(
        steps=args.steps,
        minutes=args.minutes,
        lr=args.lr,
        weight_decay=0.01,
        grad_clip=1.0,
        log_every=10,
        val_every=args.eval_every,
        best_metric="val_loss",
        best_mode="min",
        best_path=args.out,
        desc="pretrain",
    )
    trainer = Trainer(
        model,
        loss_fn,
        batches,
        config,
        val_fn=val_fn,
        schedule=lambda step, progress: warmup_cosine_steps(step, progress, args.warmup, min_ratio=0.05),
        best_meta=best_meta,
    )
    trainer.fit()
    summary = {"out": args.out, "steps": trainer.step, "best_step": trainer.best_step or 0}
    summary["val_loss"] = round(trainer.best, 4)
    print(json.dumps({**summary, "minutes": round((time.time() - started) / 60, 1)}))
    return 0


# ------------------------------------------------------------------------------------------ main


def parse_args(argv=None) -> argparse.Namespace:
    parser = recipe_parser(__doc__, prog="python -m recipes.series.tspulse.train")
    parser.add_argument("--minutes", type=float, help="stop after this many minutes (the cosine schedule follows time)")
    parser.add_argument("--steps", type=int, help="stop after this many steps")
    parser.add_argument("--out", default="models/pretrained/tspulse", help="path without suffix (.safetensors + .json)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    parser.add_argument("--dropout", type=float, default=0.0, help="encoder and head dropout while pre-training")
    parser.add_argument("--eval-every", type=int, default=200, help="steps between validation losses")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    args.argv = argv
    return args


def main(argv=None) -> int:
    return pretrain(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
