"""Training speech separators (TIGER) with permutation-invariant SI-SNR.

- :func:`add_training_flags` and :func:`fit`: the training every separation recipe shares (resume,
  validation SI-SNRi / SDRi, the best weights saved with the data, steps and command that made them);
- :func:`add_folder_training_flags` and :func:`train_on_folders`: training on a dataset of fixed
  mixtures on disk (Libri2Mix, EchoSet), given a reader of its layout.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from tfsignal import models, weights
from tfsignal.data.folders import SeparationFolderDataset
from tfsignal.evaluation.separation import score
from tfsignal.io import InputFileError
from tfsignal.train.losses import pit_si_snr_loss
from tfsignal.train.trainer import fit_summary, trainer_from_args

__all__ = [
    "ReadItems",
    "add_training_flags",
    "create_separator",
    "validation_fn",
    "fit",
    "add_folder_training_flags",
    "train_on_folders",
]

# (parsed flags, split name) -> [(mixture path, [source paths]), ...]: a dataset layout's reader
ReadItems = Callable[[argparse.Namespace, str], list[tuple[Path, list[Path]]]]


def _separators() -> list[str]:
    return [name for name in models.available() if name.startswith("tiger")]


def add_training_flags(parser: argparse.ArgumentParser, model: str, steps: int, segment_seconds: float) -> None:
    """The flags :func:`fit` reads, with a recipe's defaults for ``--model``, ``--steps`` and ``--segment-seconds``."""
    parser.add_argument("--out", required=True, help="checkpoints, log and best weights")
    parser.add_argument("--model", default=model, help=f"a TIGER config: {', '.join(_separators())}")
    parser.add_argument("--n-sources", type=int, default=2, help="speakers per mixture (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=steps, help="length of the schedule (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--segment-seconds", type=float, default=segment_seconds, help="training crop length")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (TIGER: 1e-3)")
    parser.add_argument("--val-every", type=int, default=250, help="validate and checkpoint every N steps")
    parser.add_argument("--val-clips", type=int, default=12, help="validation mixtures scored each time")
    parser.add_argument("--val-seconds", type=float, default=6.0, help="validation mixtures cut to this length")
    parser.add_argument("--max-minutes", type=float, default=math.inf, help="stop cleanly after this wall time")
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads per process (0: leave default)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)


def create_separator(name: str, n_sources: int):
    """A fresh ``name`` model separating ``n_sources``; ValueError (one line) for a name that is not one."""
    try:
        return models.create(name, n_sources=n_sources)
    except (KeyError, TypeError) as err:
        raise ValueError(f"--model {name}: not a separator config ({', '.join(_separators())})") from err


def validation_fn(val_set: SeparationFolderDataset, n_clips: int, max_seconds: float):
    """A ``val_fn(model)`` giving mean SI-SNRi and SDRi (dB) on the first ``n_clips`` items of ``val_set``."""
    n = round(max_seconds * val_set.sample_rate)
    clips = [tuple(x[..., :n] for x in val_set.load(i)) for i in range(min(n_clips, len(val_set)))]

    def val_fn(model) -> dict[str, float]:
        device = next(model.parameters()).device
        scores = []
        for mixture, references in clips:
            estimates = model(torch.from_numpy(mixture)[None].to(device))[0].float().cpu().numpy()
            scores.append(score(estimates, mixture, references))
        return {k: float(np.mean([s[k] for s in scores])) for k in ("si_snri", "sdri")}

    return val_fn


def fit(model, train_set, val_set: SeparationFolderDataset, args: argparse.Namespace, data: dict, command: str) -> int:
    """Train ``model`` with PIT SI-SNR (resuming), keep the best by validation SI-SNRi, print a JSON summary.

    ``data`` (what the model was trained on) and ``command`` are added to ``OUT/best.json``.
    """
    if args.threads:
        torch.set_num_threads(args.threads)
    val_fn = validation_fn(val_set, args.val_clips, args.val_seconds)
    loss = lambda net, batch: pit_si_snr_loss(net, batch[0], batch[1])  # noqa: E731
    trainer = trainer_from_args(model, loss, train_set, args, val_fn, args.device, best_metric="si_snri")
    started = time.time()
    metrics = trainer.fit()
    if trainer.rank != 0:
        return 0
    best_path = Path(args.out) / "best"
    if best_path.with_suffix(".json").exists():  # add what made it to the trainer's best.json
        best = models.load(best_path)
        meta = {k: v for k, v in weights.config(best_path).items() if k not in ("kind", "model", "config")}
        training = {k: getattr(args, k) for k in ("steps", "batch_size", "segment_seconds", "lr", "seed")}
        meta.update(data=data, steps_run=trainer.step, training=training, command=command)
        models.save(best, best_path, **meta)
    summary = {"model": args.model, **fit_summary(trainer, model, metrics, started)}
    print(json.dumps({**summary, "best": str(best_path.with_suffix(".json"))}))
    return 0


def add_folder_training_flags(parser: argparse.ArgumentParser, train_split: str, val_split: str) -> None:
    """The flags of :func:`train_on_folders`: ``--root``, the split names and :func:`add_training_flags`
    with the published defaults (``tiger-small``, 3 s crops)."""
    parser.add_argument("--root", required=True, help="the dataset's folder (layout below)")
    add_training_flags(parser, model="tiger-small", steps=200_000, segment_seconds=3.0)
    parser.add_argument("--train-split", default=train_split, help="(default: %(default)s)")
    parser.add_argument("--val-split", default=val_split, help="(default: %(default)s)")


def train_on_folders(args: argparse.Namespace, read_items: ReadItems, command: str) -> int:
    """Train on random crops of the train split's mixtures, validating on the val split (:func:`fit`).

    A root that is not the dataset's layout, or a model that is not a separator, is one line on
    stderr and exit code 2.
    """
    try:
        model = create_separator(args.model, args.n_sources)
        rate = model.sample_rate
        train_set = SeparationFolderDataset(read_items(args, args.train_split), args.segment_seconds, rate, args.seed)
        val_set = SeparationFolderDataset(read_items(args, args.val_split), segment_seconds=None, sample_rate=rate)
    except (InputFileError, FileNotFoundError, ValueError) as err:  # the user's paths or model: one line
        print(f"error: {err}", file=sys.stderr)
        return 2
    data = {"root": str(args.root), "train": args.train_split, "val": args.val_split, "train_mixtures": len(train_set)}
    return fit(model, train_set, val_set, args, data, command)
