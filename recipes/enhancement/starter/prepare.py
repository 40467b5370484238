"""Prepare the starter recipe's data: speaker/noise splits and fixed validation and test sets.

    python -m recipes.enhancement.starter.prepare --corpus data/speech --out runs/starter/data

Writes, under OUT:
  splits.json          clean files split by speaker, noise files by recording (paths relative to --corpus)
  test/noisy/*.wav     --n-test clips of --clip-seconds: test speakers x test noises, SNRs cycling
  test/clean/*.wav     -5, 0, 5, 10, 15 dB (16 kHz, 16-bit); test/meta.csv says what each clip is made of
  val/...              the same for --n-val clips from the validation speakers and noises

Each output is skipped when it is already complete (re-running is cheap); --overwrite rebuilds all.
The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from tfsignal.arguments import recipe_parser
from tfsignal.data.speech import MixingDataset
from tfsignal.data.splits import saved_corpus_splits, speaker_id
from tfsignal.io import save_audio

SNR_CYCLE_DB = (-5.0, 0.0, 5.0, 10.0, 15.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = recipe_parser(__doc__)
    parser.add_argument("--corpus", required=True, help="speech corpus root holding clean/ and noise/ (FLAC)")
    parser.add_argument("--out", default="runs/starter/data", help="output folder (default: %(default)s)")
    parser.add_argument("--n-test", type=int, default=60, help="test clips (default: %(default)s)")
    parser.add_argument("--n-val", type=int, default=40, help="validation clips (default: %(default)s)")
    parser.add_argument("--clip-seconds", type=float, default=4.0, help="clip length (default: %(default)s)")
    parser.add_argument("--sample-rate", type=int, default=16000, help="output rate in Hz (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the splits and mixtures (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="rebuild outputs that already exist")
    return parser.parse_args(argv)


def write_set(folder: Path, corpus: Path, splits: dict, part: str, n_clips: int, args: argparse.Namespace) -> None:
    """``n_clips`` fixed mixtures of the ``part`` speakers and noises in VB-DemandEx layout, plus meta.csv.

    meta.csv is written last, so its presence marks a complete set.
    """
    dataset = MixingDataset(
        [corpus / p for p in splits["clean"][part]],
        [corpus / p for p in splits["noise"][part]],
        segment_seconds=args.clip_seconds,
        sample_rate=args.sample_rate,
        epoch_size=n_clips,
        augment=None,
        # Different seeds per part, so val and test do not share mixing choices.
        seed=args.seed * 1000 + {"val": 1, "test": 2}[part],
    )
    for sub in ("noisy", "clean"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for stale in (folder / sub).glob("*.wav"):  # ours, from an earlier or interrupted run
            stale.unlink()
    rows = []
    for index in tqdm(range(n_clips), desc=f"{part} set", unit="clip", file=sys.stderr):
        item = dataset.mixture(index, snr_db=SNR_CYCLE_DB[index % len(SNR_CYCLE_DB)])
        name = f"{part}_{index:04d}.wav"
        save_audio(folder / "noisy" / name, item["noisy"], args.sample_rate, subtype="PCM_16")
        save_audio(folder / "clean" / name, item["clean"], args.sample_rate, subtype="PCM_16")
        rows.append(
            {
                "file": name,
                "speaker": speaker_id(item["clean_file"]),
                "speech_file": item["clean_file"].relative_to(corpus).as_posix(),
                "noise_file": item["noise_file"].relative_to(corpus).as_posix(),
                "snr_db": item["snr_db"],
            }
        )
    with open(folder / "meta.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    corpus, out = Path(args.corpus).resolve(), Path(args.out)
    try:
        splits, fresh = saved_corpus_splits(corpus, out, args.seed, args.overwrite)  # checks the corpus first
        done = ["splits"] if fresh else []
        for part, n_clips in (("test", args.n_test), ("val", args.n_val)):
            # New splits make any earlier set stale.
            if fresh or not (out / part / "meta.csv").exists():
                write_set(out / part, corpus, splits, part, n_clips, args)
                done.append(part)
    except ValueError as err:  # the user's paths or data: one line, exit code 2
        print(f"error: {err}", file=sys.stderr)
        return 2
    summary = {
        "out": str(out),
        "written": done,
        "skipped": [s for s in ("splits", "test", "val") if s not in done],
        "clean_files": {k: len(v) for k, v in splits["clean"].items()},
        "speakers": {k: len({speaker_id(p) for p in v}) for k, v in splits["clean"].items()},
        "noise_files": {k: len(v) for k, v in splits["noise"].items()},
        "test_clips": len(list((out / "test" / "noisy").glob("*.wav"))),
        "val_clips": len(list((out / "val" / "noisy").glob("*.wav"))),
        "seconds": round(time.time() - started, 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
