"""How a separator handles turn-taking, overlap and a lone voice through `tfsignal separate`'s chunking.

    python -m recipes.separation.starter.turns --corpus data/speech --model runs/separation/tiny/best.json

Two held-out speakers of the starter split (LibriSpeech 1116, male; VCTK p239, female), the
first 4 s of one recording each at equal level, arranged into short "recordings": A, B, A, B in
4 s turns; A, A, B, B in 8 s turns; B starting 3 s into A (1 s of overlap); both for all 4 s.
Each is separated whole and in 8 s and 4 s chunks (`tfsignal.separation.separate`, 2 s / 1 s of
overlap) and scored by SI-SNR improvement (dB, permutation-invariant); then 8 s of A alone, where
a separator should leave one track silent: the share of the energy on each track.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tfsignal.arguments import recipe_parser
from tfsignal.evaluation.separation import model_separator, score

SPEAKERS = ("librispeech_train-clean-100/1116-132847-0000.flac", "vctk_p239/p239_009.flac")
CHUNKINGS = {"whole": (1e9, 1.0), "8 s chunks": (8.0, 2.0), "4 s chunks": (4.0, 1.0)}


def recordings(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """name -> references (2, time) of the arranged speakers."""
    z, n = np.zeros_like(a), len(a)
    shift = 3 * n // 4
    return {
        "A, B, A, B (4 s turns)": np.stack([np.concatenate([a, z, a, z]), np.concatenate([z, b, z, b])]),
        "A, A, B, B (8 s turns)": np.stack([np.concatenate([a, a, z, z]), np.concatenate([z, z, b, b])]),
        "B starts 1 s before A stops": np.stack([np.pad(a, (0, shift)), np.pad(b, (shift, 0))]),
        "both talk for all 4 s": np.stack([a, b]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__)
    parser.add_argument("--corpus", required=True, help="speech corpus root (with clean/)")
    parser.add_argument("--model", required=True, help="saved separator (folder, .json) or shipped name")
    args = parser.parse_args(argv)
    from tfsignal.io import InputFileError, load_audio
    from tfsignal.separation import separate

    try:
        _, model = model_separator(args.model)  # refuses a model that does not separate
        rate = model.sample_rate
        a, b = (load_audio(Path(args.corpus) / "clean" / s, sr=rate, mono=True)[0][: 4 * rate] for s in SPEAKERS)
    except (InputFileError, FileNotFoundError, KeyError, ValueError) as err:  # the user's paths or model: one line
        print(f"error: {err}", file=sys.stderr)
        return 2
    b = b * np.sqrt(np.mean(a**2) / np.mean(b**2))  # equal level
    print("| recording | " + " | ".join(CHUNKINGS) + " |\n|---|" + "---|" * len(CHUNKINGS))
    for name, refs in recordings(a, b).items():
        refs = refs.astype(np.float32)
        mix = refs.sum(0)
        gains = [score(separate(model, mix, rate, c, o), mix, refs)["si_snri"] for c, o in CHUNKINGS.values()]
        print(f"| {name} | " + " | ".join(f"{g:.1f} dB" for g in gains) + " |")
    alone = separate(model, np.concatenate([a, a]).astype(np.float32), rate, 8.0, 2.0)
    share = (alone**2).sum(-1) / (alone**2).sum()
    print("8 s of A alone, energy share per track: " + " / ".join(f"{s:.0%}" for s in share))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
