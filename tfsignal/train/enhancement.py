"""Training speech enhancers: validation scoring, the trainer with the right loss, and training on
(noisy, clean) folders.

- :func:`validation_fn` scores a model on held-out pairs (PESQ, ESTOI, SI-SDR) for the trainer;
- :func:`make_trainer` picks the loss for the model (MambAttention's paper losses, with the metric
  discriminator on request, or the complex-mask loss of the streaming model);
- :func:`add_paired_training_flags` and :func:`train_paired_folders` are the command line of the
  recipes that train on a local copy of VB-DemandEx or DNS Challenge 2020: every ``--val-every``
  steps the model is scored on pairs held out of the *training* folders (every ``--val-stride``-th
  pair; the test split is never used for choosing weights), and the best weights by PESQ are kept
  in ``OUT/best.*``. Re-running resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Subset

from tfsignal import models
from tfsignal.data.folders import PairedFolderDataset
from tfsignal.io import InputFileError, load_audio
from tfsignal.metrics import estoi, pesq, si_sdr
from tfsignal.models.mambattention_stream import StreamingMambAttention
from tfsignal.train.losses import enhancement_loss, mask_enhancement_loss
from tfsignal.train.metric_gan import MetricGAN
from tfsignal.train.trainer import Trainer, fit_summary, process_device, trainer_from_args

__all__ = [
    "validation_fn",
    "add_metric_gan_flag",
    "make_trainer",
    "loss_name",
    "add_paired_training_flags",
    "train_paired_folders",
]


def validation_fn(pairs: list[tuple[Path, Path]], sample_rate: int, max_seconds: float = 8.0):
    """A ``val_fn(model)`` giving mean PESQ (wide band), ESTOI and SI-SDR on ``pairs`` (first ``max_seconds``)."""
    n = int(max_seconds * sample_rate)
    audio = []
    for noisy_path, clean_path in pairs:
        noisy, clean = load_audio(noisy_path, sr=sample_rate)[0][:n], load_audio(clean_path, sr=sample_rate)[0][:n]
        audio.append((noisy[: len(clean)], clean[: len(noisy)]))

    def val_fn(model) -> dict[str, float]:
        scores = {"pesq": [], "estoi": [], "si_sdr": []}
        for noisy, clean in audio:
            out = model.enhance(torch.from_numpy(noisy)).numpy()
            scores["pesq"].append(pesq(clean, out, sample_rate))  # reference first
            scores["estoi"].append(estoi(clean, out, sample_rate))
            scores["si_sdr"].append(float(si_sdr(out, clean)))
        return {k: float(np.mean(v)) for k, v in scores.items()}

    return val_fn


def add_metric_gan_flag(parser: argparse.ArgumentParser) -> None:
    """``--metric-gan``: train the paper's metric discriminator beside the enhancer (see :func:`make_trainer`)."""
    parser.add_argument(
        "--metric-gan",
        action="store_true",
        help="also train the paper's metric discriminator (a learned PESQ) and add its loss (weight 0.05)",
    )


def make_trainer(model, dataset, args: argparse.Namespace, val_fn, device: str = "cpu") -> Trainer:
    """A Trainer configured from a recipe's flags (:func:`~tfsignal.train.trainer.trainer_from_args`),
    minimising the enhancement paper's losses (with its metric discriminator when ``args.metric_gan``)
    or, for the streaming complex-mask model, :func:`~tfsignal.train.losses.mask_enhancement_loss`,
    and keeping the weights with the best validation PESQ."""
    stateful = {}
    if isinstance(model, StreamingMambAttention):
        if getattr(args, "metric_gan", False):
            raise ValueError("--metric-gan trains MambAttention's magnitude decoder; the streaming model has none")
        loss = lambda net, batch: mask_enhancement_loss(net, batch[0], batch[1])  # noqa: E731
    else:
        gan = None
        if getattr(args, "metric_gan", False):
            gan = stateful["metric_gan"] = MetricGAN(model.sample_rate, lr=args.lr, device=process_device(device))
        loss = lambda net, batch: enhancement_loss(net, batch[0], batch[1], metric_gan=gan)  # noqa: E731
    return trainer_from_args(model, loss, dataset, args, val_fn, device, best_metric="pesq", stateful=stateful)


def loss_name(model, args: argparse.Namespace) -> str:
    """The loss :func:`make_trainer` minimises for ``model`` under ``args``, as a model card names it."""
    if isinstance(model, StreamingMambAttention):
        return "mask_enhancement_loss"
    return "enhancement_loss + metric GAN" if getattr(args, "metric_gan", False) else "enhancement_loss"


def add_paired_training_flags(parser: argparse.ArgumentParser, default_model: str = "mambattention") -> None:
    """The flags :func:`train_paired_folders` reads (the paper's setting by default: 2 s segments, AdamW 5e-4)."""
    parser.add_argument("--root", required=True, help="dataset root (noisy/ + clean/, or *_trainset_* folders)")
    parser.add_argument("--out", default="runs/enhance", help="checkpoints, log and best weights")
    parser.add_argument("--model", default=default_model, help=f"one of {', '.join(models.available())}")
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--segment-seconds", type=float, default=2.0, help="paper: 2 s")
    parser.add_argument("--lr", type=float, default=5e-4, help="paper: 5e-4")
    add_metric_gan_flag(parser)
    parser.add_argument("--val-every", type=int, default=2000)
    parser.add_argument("--val-stride", type=int, default=50, help="every N-th training pair is held out")
    parser.add_argument("--val-clips", type=int, default=40)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--max-minutes", type=float, default=math.inf)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)


def train_paired_folders(args: argparse.Namespace, dataset_name: str) -> int:
    """Train ``args.model`` on the (noisy, clean) pairs under ``args.root``; print a JSON summary (rank 0).

    Returns the exit code: 2, with one line on stderr, when the root holds no pairs.
    """
    model = models.create(args.model)
    try:
        dataset = PairedFolderDataset(args.root, args.segment_seconds, model.sample_rate, train=True, seed=args.seed)
    except InputFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    held = set(range(0, len(dataset), args.val_stride))
    train_set = Subset(dataset, [i for i in range(len(dataset)) if i not in held])
    train_set.set_epoch = dataset.set_epoch  # new random crops every epoch
    val_pairs = [dataset.pairs[i] for i in sorted(held)][: args.val_clips]
    trainer = make_trainer(model, train_set, args, validation_fn(val_pairs, model.sample_rate), args.device)
    started = time.time()
    metrics = trainer.fit()
    if trainer.rank == 0:
        pairs = {"train_pairs": len(train_set), "val_pairs": len(val_pairs)}
        summary = {
            "dataset": dataset_name,
            "model": args.model,
            **pairs,
            **fit_summary(trainer, model, metrics, started),
        }
        print(json.dumps(summary))
    return 0
