"""Train the shipped speech enhancer on the offline starter corpus (real speech + real noise, mixed on the fly).

    python -m recipes.enhancement.starter.prepare --corpus data/speech --out runs/starter/data
    python -m recipes.enhancement.starter.train --corpus data/speech --data runs/starter/data \\
        --out runs/starter/stream --minutes 110   # or --steps N; --max-minutes stops a run to resume later
    torchrun --nproc_per_node 2 -m recipes.enhancement.starter.train ... --threads 1   # data-parallel, same flags
    python -m recipes.enhancement.starter.train ... --init enhancer --lr 3e-4  # fine-tune the shipped weights
    python -m recipes.enhancement.starter.train ... --metric-gan  # + the paper's metric discriminator

Training mixtures come from the train speakers and train noise files of ``splits.json`` (written
by prepare), with the share of clean-only inputs, synthetic noise and reverberant targets the flags
set (tfsignal.data.speech.MixingDataset, tfsignal.data.augment.Augment); validation scores a fixed
subset of ``val/`` after every ``--val-every`` steps and keeps the best weights (by PESQ) as
``OUT/best.safetensors`` + ``best.json``. Re-running the same command resumes from ``OUT/last.pt``.
``OUT/last.*`` (the weights the run ended with) and ``best.json`` carry a model card: the data,
the command and every leg of training with the totals (tfsignal.train.trainer.save_with_card), so
``--init OUT/last`` continues across sessions and the card keeps the cumulative figures.
The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import torch

from tfsignal import models
from tfsignal.arguments import config_overrides, recipe_parser
from tfsignal.cli.common import UserError
from tfsignal.data.augment import Augment
from tfsignal.data.folders import match_pairs
from tfsignal.data.speech import MixingDataset
from tfsignal.data.splits import read_corpus_splits
from tfsignal.io import InputFileError
from tfsignal.train.enhancement import add_metric_gan_flag, loss_name, make_trainer, validation_fn
from tfsignal.train.trainer import fit_summary, save_with_card

MIXING = ("snr_db", "clean_prob", "synthetic_noise_prob", "reverb_target_prob")


def parse_args(argv=None) -> argparse.Namespace:
    parser = recipe_parser(__doc__)
    parser.add_argument("--corpus", required=True, help="speech corpus root (clean/ and noise/ folders)")
    parser.add_argument("--data", required=True, help="output folder of the prepare step (splits.json, val/)")
    parser.add_argument("--out", default="runs/starter/model", help="checkpoints, log and best weights")
    parser.add_argument(
        "--model", default="mambattention-stream", help=f"one of {', '.join(models.available())} (default: %(default)s)"
    )
    parser.add_argument(
        "--init",
        help="start from these weights instead of a fresh model: a shipped name (enhancer) or a folder/path "
        "with .json + .safetensors; its configuration replaces --model",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one field of --model's configuration (repeatable), e.g. --set channels=24; with --init, "
        "a field that adds parts to the trained weights (--set frame_dim=64)",
    )
    parser.add_argument("--steps", type=int, help="step budget (default: 3000 unless --minutes is given)")
    parser.add_argument(
        "--minutes",
        type=float,
        help="time budget in minutes: the learning-rate schedule spans it, so a run on a busy machine still "
        "ends its cosine decay (with --steps too, whichever is spent first ends the run)",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="mixtures per step and process")
    parser.add_argument("--segment-seconds", type=float, default=2.0)
    parser.add_argument(
        "--snr-db", type=float, nargs=2, default=(-5.0, 30.0), metavar=("MIN", "MAX"), help="mixing SNR range"
    )
    parser.add_argument("--clean-prob", type=float, default=0.1, help="share of inputs with no noise at all")
    parser.add_argument(
        "--synthetic-noise-prob",
        type=float,
        default=0.25,
        help="share of synthetic noise (coloured, hum, tones, babble)",
    )
    parser.add_argument(
        "--reverb-target-prob",
        type=float,
        default=0.5,
        help="share of reverberant inputs whose target keeps the reverb",
    )
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    add_metric_gan_flag(parser)
    parser.add_argument("--val-every", type=int, default=250)
    parser.add_argument("--val-clips", type=int, default=12, help="validation clips scored each time")
    parser.add_argument("--max-minutes", type=float, default=math.inf, help="stop cleanly after this wall time")
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads per process (0: leave default)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def validation(val_dir: Path, n_clips: int, sample_rate: int):
    """A val_fn scoring the model on the first ``n_clips`` pairs of val/noisy, val/clean."""
    return validation_fn(match_pairs(val_dir / "noisy", val_dir / "clean")[:n_clips], sample_rate)


def build(init: str | None, name: str, overrides: dict):
    """``--init``'s weights (grown by ``--set``'s fields) or a fresh ``--model`` with them."""
    try:
        return models.grow(init, **overrides) if init else models.create(name, **overrides)
    except TypeError as err:  # an unknown field: the registry names the known ones
        raise UserError(str(err)) from None


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.steps is None and args.minutes is None:
        args.steps = 3000
    if args.threads:
        torch.set_num_threads(args.threads)
    corpus, data = Path(args.corpus), Path(args.data)
    try:
        splits = read_corpus_splits(data, "python -m recipes.enhancement.starter.prepare")
        model = build(args.init, args.model, config_overrides(args.set)).train()
    except (InputFileError, FileNotFoundError, UserError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.init:
        args.model = model.name
    rate = model.sample_rate
    dataset = MixingDataset(
        [corpus / p for p in splits["clean"]["train"]],
        [corpus / p for p in splits["noise"]["train"]],
        segment_seconds=args.segment_seconds,
        sample_rate=rate,
        snr_db=tuple(args.snr_db),
        epoch_size=(args.steps or 1000) * args.batch_size,
        augment=Augment(reverb_target_prob=args.reverb_target_prob),
        seed=args.seed,
        clean_prob=args.clean_prob,
        synthetic_noise_prob=args.synthetic_noise_prob,
    )
    if args.num_workers > 0:
        dataset.preload()  # decode once before the workers fork, so they share one copy
    trainer = make_trainer(model, dataset, args, validation(data / "val", args.val_clips, rate))
    started = time.time()
    metrics = trainer.fit()
    if trainer.rank != 0:
        return 0
    data = {
        "corpus": str(corpus),
        "splits": str(data / "splits.json"),
        "train_speech_files": len(splits["clean"]["train"]),
        "train_noise_files": len(splits["noise"]["train"]),
        "mixing": {k: getattr(args, k) for k in MIXING},
        "validation": f"the first {args.val_clips} pairs of {data / 'val'}",
    }
    command = "python -m recipes.enhancement.starter.train " + shlex.join(sys.argv[1:] if argv is None else argv)
    card = save_with_card(trainer, model, args, metrics, data, command, loss_name(model, args))
    summary = {"model": args.model, "init": args.init, **fit_summary(trainer, model, metrics, started)}
    total = card["training"]["total"]
    print(json.dumps({**summary, "world": trainer.world, **{f"total_{k}": v for k, v in total.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
