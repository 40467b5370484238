"""Train a TIGER separator on two-speaker mixtures of the offline corpus, made on the fly.

    python -m recipes.separation.prepare --corpus ../shared/data/speech --out runs/separation/data
    python -m recipes.separation.train --corpus ../shared/data/speech --data runs/separation/data \\
        --model tiger-tiny --out runs/separation/tiny --steps 4000 --max-minutes 120
    torchrun --nproc_per_node 2 -m recipes.separation.train ... --threads 1   # data-parallel, same flags

On a 2-core CPU, two one-thread processes (``--batch-size 4`` each) ran ``tiger-tiny`` at 3.75 s per
step of 8 one-second mixtures, against 5.8 s for one two-thread process with ``--batch-size 8``.

Training mixtures (:class:`tfsignal.train.data.SpeakerMixingDataset`) pair two different speakers
of the train split in ``splits.json`` (written by prepare) at a random overlap ratio and relative
level, with optional noise from the train noise files (``--noise-prob``) and reverb
(``--reverb-prob``). The loss is permutation-invariant SI-SNR. Every ``--val-every`` steps the model
is scored (SI-SNRi, SDRi) on the first ``--val-clips`` mixtures of ``val/`` (validation speakers)
and the best weights by SI-SNRi are kept as ``OUT/best.safetensors`` + ``best.json`` (with the data,
steps and command in the JSON). Re-running the same command resumes from ``OUT/last.pt``.
The last line printed is a JSON summary. ``--model tiger-small`` is the published size (for a GPU).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from recipes.common.enhance_train import make_trainer
from recipes.separation.evaluate import prepared_set, score
from tfsignal import models, weights
from tfsignal.io import InputFileError
from tfsignal.train import pit_si_snr_loss
from tfsignal.train.data import SeparationFolderDataset, SpeakerMixingDataset


def add_training_flags(parser: argparse.ArgumentParser, model: str, steps: int, segment_seconds: float) -> None:
    """Flags every separation recipe's training shares (the names ``make_trainer`` reads)."""
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


def _separators() -> list[str]:
    return [name for name in models.available() if name.startswith("tiger")]


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
    """Train ``model`` with PIT SI-SNR (resuming), keep the best by validation SI-SNRi, print a JSON summary."""
    if args.threads:
        torch.set_num_threads(args.threads)
    val_fn = validation_fn(val_set, args.val_clips, args.val_seconds)
    loss = lambda net, batch: pit_si_snr_loss(net, batch[0], batch[1])  # noqa: E731
    trainer = make_trainer(model, train_set, args, val_fn, args.device, loss=loss, best_metric="si_snri")
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
    summary = {
        "model": args.model,
        "params": sum(p.numel() for p in model.parameters()),
        "steps": trainer.step,
        "best_si_snri": trainer.best,
        "last_val": metrics,
        "minutes": round((time.time() - started) / 60, 1),
        "best": str(best_path.with_suffix(".json")),
    }
    print(json.dumps(summary))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python -m recipes.separation.train --corpus ../shared/data/speech "
        "--data runs/separation/data --out runs/separation/tiny",
    )
    parser.add_argument("--corpus", required=True, help="speech corpus root (clean/ and noise/ folders)")
    parser.add_argument("--data", required=True, help="output folder of recipes.separation.prepare")
    add_training_flags(parser, model="tiger-tiny", steps=4000, segment_seconds=1.0)
    parser.add_argument("--overlap", type=float, nargs=2, default=(0.0, 1.0), metavar=("MIN", "MAX"))
    parser.add_argument("--relative-level-db", type=float, default=5.0, help="second speaker within +-N dB")
    parser.add_argument("--noise-prob", type=float, default=0.0, help="share of mixtures with corpus noise")
    parser.add_argument("--reverb-prob", type=float, default=0.0, help="share of mixtures in a synthetic room")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpus, data = Path(args.corpus), Path(args.data)
    splits_path = data / "splits.json"
    if not splits_path.exists():
        print(f"error: {splits_path}: missing; run python -m recipes.separation.prepare first", file=sys.stderr)
        return 2
    splits = json.loads(splits_path.read_text())
    try:
        model = create_separator(args.model, args.n_sources)
        train_set = SpeakerMixingDataset(
            [corpus / p for p in splits["clean"]["train"]],
            [corpus / p for p in splits["noise"]["train"]],
            n_sources=args.n_sources,
            segment_seconds=args.segment_seconds,
            sample_rate=model.sample_rate,
            overlap=tuple(args.overlap),
            relative_level_db=args.relative_level_db,
            noise_prob=args.noise_prob,
            reverb_prob=args.reverb_prob,
            epoch_size=args.steps * args.batch_size,
            seed=args.seed,
        )
        if args.num_workers > 0:
            train_set.preload()  # decode once before the workers fork, so they share one copy
        val_set = prepared_set(data / "val", args.n_sources, model.sample_rate)
    except (InputFileError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    described = {
        "corpus": str(corpus),
        "splits": str(splits_path),
        "train_speech_files": len(splits["clean"]["train"]),
        "mixing": {k: getattr(args, k) for k in ("overlap", "relative_level_db", "noise_prob", "reverb_prob")},
        "validation": str(data / "val"),
    }
    command = "python -m recipes.separation.train " + shlex.join(sys.argv[1:] if argv is None else argv)
    return fit(model, train_set, val_set, args, described, command)


if __name__ == "__main__":
    sys.exit(main())
