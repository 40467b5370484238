"""Train a TIGER separator on speaker mixtures of the offline corpus made on the fly, as recordings
sound: both talking, taking turns, or one voice alone.

    python -m recipes.separation.starter.prepare --corpus data/speech --out runs/separation/data
    OMP_NUM_THREADS=1 torchrun --nproc_per_node 2 -m recipes.separation.starter.train --corpus data/speech \\
        --data runs/separation/data --out runs/separation/cpu --minutes 240 --threads 1
    ... --out runs/separation/cpu2 --init runs/separation/cpu/last.json --minutes 240   # the next leg
    python -m recipes.separation.starter.train ... --model tiger-tiny --set n_repeats=3   # another config

Training mixtures (:class:`tfsignal.data.speech.SpeakerMixingDataset`) pair two different speakers
of the train split in ``splits.json`` (written by prepare) at a random overlap ratio (0: they take
turns, 1: both talk throughout) and relative level; ``--lone-prob`` of them hold one voice alone
(the other reference silent), and ``--noise-prob`` / ``--reverb-prob`` add train noise files and a
synthetic room. The loss is permutation-invariant SNR with a 30 dB soft threshold set by the
mixture (:func:`tfsignal.train.losses.pit_snr_loss`), defined for a silent reference.

``--minutes`` gives the run a time budget that the learning-rate schedule spans (``--steps`` a step
budget; ``--max-minutes`` only stops a run, to resume later). Every ``--val-every`` steps the model
is scored on the first ``--val-clips`` mixtures of ``val/`` (validation speakers): SI-SNRi, SDRi and
the lone-voice share (the energy share of the louder output given one speaker alone); the best
weights by SI-SNRi are kept as ``OUT/best.*`` and the last as ``OUT/last.*`` (safetensors + JSON).
Both JSON files carry a model card: the data, the command and every training leg (those of
``--init``'s card, then this one) with totals of minutes, steps and hours of audio. Re-running the
same command resumes from ``OUT/last.pt``; ``--init OUT/last.json`` with a new ``--out`` starts the
next leg from the weights (a new schedule). The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from tfsignal.arguments import recipe_parser
from tfsignal.data.speech import SpeakerMixingDataset
from tfsignal.data.splits import read_corpus_splits
from tfsignal.evaluation.separation import prepared_set
from tfsignal.io import InputFileError
from tfsignal.train.losses import pit_snr_loss
from tfsignal.train.separation import add_training_flags, budget_steps, fit, separator_from_args

MIXING = ("overlap", "relative_level_db", "lone_prob", "noise_prob", "reverb_prob")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = recipe_parser(__doc__)
    parser.add_argument("--corpus", required=True, help="speech corpus root (clean/ and noise/ folders)")
    parser.add_argument("--data", required=True, help="output folder of the prepare step")
    add_training_flags(parser, model="tiger-cpu", steps=4000, segment_seconds=2.0)
    parser.add_argument("--overlap", type=float, nargs=2, default=(0.0, 1.0), metavar=("MIN", "MAX"))
    parser.add_argument("--relative-level-db", type=float, default=6.0, help="second speaker within +-N dB")
    parser.add_argument("--lone-prob", type=float, default=0.2, help="share of mixtures with one voice alone")
    parser.add_argument("--noise-prob", type=float, default=0.2, help="share of mixtures with corpus noise")
    parser.add_argument("--reverb-prob", type=float, default=0.2, help="share of mixtures in a synthetic room")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpus, data = Path(args.corpus), Path(args.data)
    try:
        splits = read_corpus_splits(data, "python -m recipes.separation.starter.prepare")
        model = separator_from_args(args)
        train_set = SpeakerMixingDataset(
            [corpus / p for p in splits["clean"]["train"]],
            [corpus / p for p in splits["noise"]["train"]],
            n_sources=args.n_sources,
            segment_seconds=args.segment_seconds,
            sample_rate=model.sample_rate,
            overlap=tuple(args.overlap),
            relative_level_db=args.relative_level_db,
            lone_prob=args.lone_prob,
            noise_prob=args.noise_prob,
            reverb_prob=args.reverb_prob,
            epoch_size=(budget_steps(args) or 1000) * args.batch_size,
            seed=args.seed,
        )
        if args.num_workers > 0:
            train_set.preload()  # decode once before the workers fork, so they share one copy
        val_set = prepared_set(data / "val", args.n_sources, model.sample_rate)
    except (InputFileError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    described = {
        "corpus": str(corpus),
        "splits": str(data / "splits.json"),
        "train_speech_files": len(splits["clean"]["train"]),
        "mixing": {k: getattr(args, k) for k in MIXING},
        "validation": str(data / "val"),
    }
    command = "python -m recipes.separation.starter.train " + shlex.join(sys.argv[1:] if argv is None else argv)
    return fit(model, train_set, val_set, args, described, command, loss_fn=pit_snr_loss)


if __name__ == "__main__":
    sys.exit(main())
