"""Prepare the separation starter's data: a speaker split and fixed validation and test mixtures.

    python -m recipes.separation.starter.prepare --corpus data/speech --out runs/separation/data

Writes, under OUT:
  splits.json            speech files split by speaker into train / val / test, noise files by
                         recording (paths relative to --corpus; the same split as the enhancement starter)
  test/mix/*.wav         --n-test mixtures of --clip-seconds, two different test speakers each,
  test/s1/*.wav, s2/...  overlap ratios cycling 0, 25, 50, 75, 100 %, the second speaker within
                         +-5 dB of the first (16 kHz, 16-bit); test/meta.csv says what each holds
  val/...                the same for --n-val mixtures of validation speakers

Training mixtures are not written: the train step makes them on the fly from the train
speakers. No test speaker is in the train or validation split. Each set is skipped when already
complete (its meta.csv is written last); --overwrite rebuilds all. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from tfsignal.arguments import recipe_parser
from tfsignal.data.speech import SpeakerMixingDataset
from tfsignal.data.splits import saved_corpus_splits, speaker_id
from tfsignal.io import InputFileError, save_audio, save_text

OVERLAP_CYCLE = (0.0, 0.25, 0.5, 0.75, 1.0)
PART_SEEDS = {"val": 1, "test": 2}  # val and test draw different mixing choices from one --seed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = recipe_parser(__doc__)
    parser.add_argument("--corpus", required=True, help="speech corpus root holding clean/ and noise/ (FLAC)")
    parser.add_argument("--out", default="runs/separation/data", help="output folder (default: %(default)s)")
    for flag, kind, default, what in (
        ("--n-test", int, 60, "test mixtures"),
        ("--n-val", int, 20, "validation mixtures"),
        ("--n-sources", int, 2, "speakers per mixture"),
        ("--clip-seconds", float, 4.0, "mixture length"),
        ("--sample-rate", int, 16000, "output rate in Hz"),
        ("--noise-prob", float, 0.0, "share of mixtures with corpus noise"),
        ("--reverb-prob", float, 0.0, "share of mixtures in a synthetic room"),
        ("--seed", int, 0, "seed of the splits and mixtures"),
    ):
        parser.add_argument(flag, type=kind, default=default, help=f"{what} (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="rebuild outputs that already exist")
    return parser.parse_args(argv)


def write_mixtures(folder: Path, corpus: Path, files: dict, n_mixtures: int, args: argparse.Namespace) -> None:
    """``n_mixtures`` fixed mixtures from the speech and noise ``files`` of one part, plus meta.csv."""
    part = folder.name
    dataset = SpeakerMixingDataset(
        [corpus / p for p in files["clean"]],
        [corpus / p for p in files["noise"]],
        n_sources=args.n_sources,
        segment_seconds=args.clip_seconds,
        sample_rate=args.sample_rate,
        noise_prob=args.noise_prob,
        reverb_prob=args.reverb_prob,
        epoch_size=n_mixtures,
        seed=args.seed * 1000 + PART_SEEDS[part],
    )
    names = ["mix"] + [f"s{k + 1}" for k in range(args.n_sources)]
    for name in names:
        (folder / name).mkdir(parents=True, exist_ok=True)
        for stale in (folder / name).glob("*.wav"):  # ours, from an earlier or interrupted run
            stale.unlink()
    rows = []
    for index in tqdm(range(n_mixtures), desc=f"{part} mixtures", unit="mixture", file=sys.stderr):
        item = dataset.mixture(index, overlap=OVERLAP_CYCLE[index % len(OVERLAP_CYCLE)])
        file = f"{part}_{index:04d}.wav"
        for name, signal in zip(names, [item["mixture"], *item["sources"]]):
            save_audio(folder / name / file, signal, args.sample_rate, subtype="PCM_16")
        rows.append(
            {
                "file": file,
                "speakers": " ".join(speaker_id(p) for p in item["speech_files"]),
                "speech_files": " ".join(p.relative_to(corpus).as_posix() for p in item["speech_files"]),
                "overlap": item["overlap"],
                "levels_db": " ".join(f"{db:.2f}" for db in item["levels_db"]),
                "reverb": item["reverb"],
                "noise_file": item["noise_file"].relative_to(corpus).as_posix() if item["noise_file"] else "",
                "snr_db": "" if item["snr_db"] is None else round(item["snr_db"], 2),
            }
        )
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    save_text(folder / "meta.csv", table.getvalue(), overwrite=True)  # atomic: its presence marks a complete set


def prepare(corpus: Path, out: Path, args: argparse.Namespace) -> tuple[dict, list[str]]:
    """``(splits, names of what was written)``: the splits, then the test and validation sets when missing."""
    splits, fresh = saved_corpus_splits(corpus, out, args.seed, args.overwrite)
    written = ["splits"] if fresh else []
    for part, n_mixtures in (("test", args.n_test), ("val", args.n_val)):
        if fresh or not (out / part / "meta.csv").exists():  # new splits make earlier sets stale
            files = {"clean": splits["clean"][part], "noise": splits["noise"][part]}
            write_mixtures(out / part, corpus, files, n_mixtures, args)
            written.append(part)
    return splits, written


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started, out = time.time(), Path(args.out)
    try:
        splits, written = prepare(Path(args.corpus).resolve(), out, args)
    except (InputFileError, ValueError) as err:  # the user's paths or data: one line, exit code 2
        print(f"error: {err}", file=sys.stderr)
        return 2
    summary = {
        "out": str(out),
        "written": written,
        "speakers": {part: len({speaker_id(p) for p in files}) for part, files in splits["clean"].items()},
        "test_mixtures": len(list((out / "test" / "mix").glob("*.wav"))),
        "val_mixtures": len(list((out / "val" / "mix").glob("*.wav"))),
        "seconds": round(time.time() - started, 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
