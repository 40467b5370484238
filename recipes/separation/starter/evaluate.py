"""Score a speech separator on the starter's held-out mixtures: SI-SNRi and SDRi, overall and by overlap ratio.

    python -m recipes.separation.starter.evaluate --data runs/separation/data --model runs/separation/tiny/best.json
    python -m recipes.separation.starter.evaluate ... --split val   # choose between weights on validation

Reads DATA/test/{mix,s1,s2,...}/ as the prepare step writes them (speakers held out from training),
or DATA/val/ with ``--split val``: pick weights on validation, report them on test.
Rows, on the same mixtures: the unprocessed mixture (SI-SNRi and SDRi are 0 by definition), ideal
ratio masks from the true sources through the model's STFT (what a real-valued mask can reach), and
the model run as ``tfsignal separate`` runs it (8 s chunks); the estimates are matched to the
references by permutation-invariant SI-SNR, SDR is BSS Eval v3's (512-tap projection) and the
overlap ratio is measured on the references (tfsignal.evaluation.separation). The lone-voice
column gives each method the first speaker of every mixture alone and reports the energy share of
its louder output (0.5 for the unprocessed mixture, 1 when the voice stays on one track; a
separator that ships should reach 0.95).

Prints a markdown table of the means, the same by overlap ratio, then one JSON line.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tfsignal.arguments import recipe_parser
from tfsignal.evaluation.separation import add_evaluation_flags, prepared_set, run_evaluation
from tfsignal.io import InputFileError


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__)
    parser.add_argument("--data", default="runs/separation/data", help="output folder of the prepare step")
    parser.add_argument("--n-sources", type=int, default=2, help="speakers per mixture (default: %(default)s)")
    parser.add_argument("--split", choices=("test", "val"), default="test", help="(default: %(default)s)")
    add_evaluation_flags(parser)
    args = parser.parse_args(argv)
    try:
        dataset = prepared_set(Path(args.data) / args.split, args.n_sources, args.sample_rate)
        return run_evaluation(dataset, args, str(Path(args.data) / args.split))
    except (InputFileError, FileNotFoundError, ValueError) as err:  # the user's paths or model: one line
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
