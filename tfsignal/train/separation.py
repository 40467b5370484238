"""Training speech separators (TIGER) with permutation-invariant SI-SNR.

- :func:`add_training_flags`, :func:`separator_from_args` and :func:`fit`: the training every
  separation recipe shares (a step or time budget, resume, ``--init`` from saved weights, validation
  SI-SNRi / SDRi and lone-voice share, the best and the last weights saved with a model card that
  adds up the training time and hours of audio of every leg, the data and the command);
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

from tfsignal import models
from tfsignal.arguments import config_overrides
from tfsignal.data.folders import SeparationFolderDataset
from tfsignal.evaluation.separation import score
from tfsignal.io import InputFileError
from tfsignal.metrics import louder_share
from tfsignal.train.losses import pit_si_snr_loss
from tfsignal.train.trainer import fit_summary, save_with_card, trainer_from_args

__all__ = [
    "ReadItems",
    "add_training_flags",
    "separator_from_args",
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
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one field of --model's configuration (repeatable), e.g. --set channels=32; with "
        "--init, only a field that adds parts to the trained weights",
    )
    parser.add_argument(
        "--init",
        help="start from saved weights (.json + .safetensors, or a folder) instead of a fresh --model; their "
        "configuration replaces --model and their model card's training legs are carried on",
    )
    parser.add_argument("--n-sources", type=int, default=2, help="speakers per mixture (default: %(default)s)")
    parser.add_argument("--steps", type=int, help=f"step budget (default: {steps} unless --minutes is given)")
    parser.add_argument(
        "--minutes",
        type=float,
        help="time budget in minutes, summed over resumed runs: the learning-rate schedule spans it (with "
        "--steps too, whichever is spent first ends the run)",
    )
    parser.set_defaults(steps_without_minutes=steps)
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


def separator_from_args(args: argparse.Namespace):
    """The model :func:`fit` trains: ``--init``'s weights (their configuration and number of sources
    replace ``--model`` and ``--n-sources``) or a fresh ``--model`` with ``--set``'s fields; ValueError
    (one line) for a name, field or combination that does not work."""
    if args.init:
        try:
            model = models.grow(args.init, **config_overrides(args.set)).train()
        except TypeError as err:  # an unknown field: the registry names the known ones
            raise ValueError(str(err)) from None
        if getattr(model, "n_sources", None) is None:
            raise ValueError(f"--init {args.init}: not a separator")
        args.model, args.n_sources = models.name_of(model), model.n_sources
        return model
    try:
        return models.create(args.model, n_sources=args.n_sources, **config_overrides(args.set))
    except KeyError as err:
        raise ValueError(f"--model {args.model}: not a separator config ({', '.join(_separators())})") from err
    except TypeError as err:  # an unknown field: the registry names the known ones
        raise ValueError(str(err)) from None


def validation_fn(val_set: SeparationFolderDataset, n_clips: int, max_seconds: float):
    """A ``val_fn(model)`` giving mean SI-SNRi and SDRi (dB) on the first ``n_clips`` items of
    ``val_set``, and the mean energy share of the loudest output when the first speaker of each is
    given alone (``lone_share``, :func:`tfsignal.metrics.louder_share`: 1 keeps a lone voice on one track)."""
    n = round(max_seconds * val_set.sample_rate)
    clips = [tuple(x[..., :n] for x in val_set.load(i)) for i in range(min(n_clips, len(val_set)))]

    def val_fn(model) -> dict[str, float]:
        device = next(model.parameters()).device
        scores, shares = [], []
        for mixture, references in clips:
            estimates = model(torch.from_numpy(mixture)[None].to(device))[0].float().cpu().numpy()
            scores.append(score(estimates, mixture, references))
            lone = model(torch.from_numpy(references[0])[None].to(device))[0].float().cpu().numpy()
            shares.append(louder_share(lone))
        means = {k: float(np.mean([s[k] for s in scores])) for k in ("si_snri", "sdri")}
        return {**means, "lone_share": float(np.mean(shares))}

    return val_fn


def budget_steps(args: argparse.Namespace) -> int | None:
    """``--steps``, or the recipe's default when neither ``--steps`` nor ``--minutes`` is given
    (None: the time budget alone); set on ``args``."""
    if args.steps is None and args.minutes is None:
        args.steps = args.steps_without_minutes
    return args.steps


def fit(
    model,
    train_set,
    val_set: SeparationFolderDataset,
    args: argparse.Namespace,
    data: dict,
    command: str,
    loss_fn=pit_si_snr_loss,
) -> int:
    """Train ``model`` with ``loss_fn(model, mixtures, sources)`` (resuming), keep the best by
    validation SI-SNRi, print a JSON summary.

    ``OUT/best.*`` (the best weights) and ``OUT/last.*`` (the weights the run ended with, the point
    to continue from with ``--init``) carry a model card: ``data`` (what the model was trained
    on), ``command``, the flags, and ``training``, the legs of ``--init``'s card plus this one with
    totals of steps, minutes and hours of audio (:func:`~tfsignal.train.trainer.training_card`).
    """
    if args.threads:
        torch.set_num_threads(args.threads)
    budget_steps(args)
    val_fn = validation_fn(val_set, args.val_clips, args.val_seconds)
    loss = lambda net, batch: loss_fn(net, batch[0], batch[1])  # noqa: E731
    trainer = trainer_from_args(model, loss, train_set, args, val_fn, args.device, best_metric="si_snri")
    started = time.time()
    metrics = trainer.fit()
    if trainer.rank != 0:
        return 0
    card = save_with_card(trainer, model, args, metrics, data, command, loss_fn.__name__)
    summary = {"model": args.model, "init": args.init, **fit_summary(trainer, model, metrics, started)}
    total = card["training"]["total"]
    print(json.dumps({**summary, "world": trainer.world, **{f"total_{k}": v for k, v in total.items()}}))
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
        model = separator_from_args(args)
        rate = model.sample_rate
        train_set = SeparationFolderDataset(read_items(args, args.train_split), args.segment_seconds, rate, args.seed)
        val_set = SeparationFolderDataset(read_items(args, args.val_split), segment_seconds=None, sample_rate=rate)
    except (InputFileError, FileNotFoundError, ValueError) as err:  # the user's paths or model: one line
        print(f"error: {err}", file=sys.stderr)
        return 2
    data = {"root": str(args.root), "train": args.train_split, "val": args.val_split, "train_mixtures": len(train_set)}
    return fit(model, train_set, val_set, args, data, command)
