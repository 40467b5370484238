"""Score the mixture, ideal ratio masks and a separator on Libri2Mix's test mixtures: SI-SNRi and SDRi.

    python -m recipes.separation.libri2mix.evaluate --root /data/Libri2Mix --model runs/libri2mix/best.json

--root is the Libri2Mix folder (or its wav16k/min) as LibriMix's generator writes it; the test
mixtures are listed by metadata/mixture_test_{mix_clean,mix_both}.csv when it is there, otherwise
every mix_clean/ file with an s1/ and s2/ file of the same name is used (--mixture, --rate-folder
and --mode choose the folders). Whole mixtures are scored (3000 in the full set; --max-items for
fewer): markdown tables overall and by overlap ratio, then one JSON line.
"""

from __future__ import annotations

import sys

from tfsignal.arguments import recipe_parser
from tfsignal.data.folders import libri2mix_items
from tfsignal.evaluation.separation import add_folder_evaluation_flags, evaluate_folders


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__, prog="python -m recipes.separation.libri2mix.evaluate")
    add_folder_evaluation_flags(parser, test_split="test")
    parser.add_argument("--mixture", choices=["mix_clean", "mix_both"], default="mix_clean")
    parser.add_argument("--rate-folder", choices=["wav16k", "wav8k"], default="wav16k")
    parser.add_argument("--mode", choices=["min", "max"], default="min")
    args = parser.parse_args(argv)
    return evaluate_folders(args, lambda a, split: libri2mix_items(a.root, split, a.mixture, a.rate_folder, a.mode))


if __name__ == "__main__":
    sys.exit(main())
