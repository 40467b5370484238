"""Score the mixture, ideal ratio masks and a separator on EchoSet's test mixtures: SI-SNRi and SDRi.

    python -m recipes.separation.echoset.evaluate --root /data/EchoSet --model runs/echoset/best.json

Every ``mix.wav`` under ``ROOT/test/`` is scored whole against the ``spk1_reverb.wav`` and
``spk2_reverb.wav`` beside it (a folder without both is left out): markdown tables overall and by
overlap ratio, then one JSON line.
"""

from __future__ import annotations

import sys

from tfsignal.arguments import recipe_parser
from tfsignal.data.folders import echoset_items
from tfsignal.evaluation.separation import add_folder_evaluation_flags, evaluate_folders


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__, prog="python -m recipes.separation.echoset.evaluate")
    add_folder_evaluation_flags(parser, test_split="test")
    return evaluate_folders(parser.parse_args(argv), lambda a, split: echoset_items(a.root, split))


if __name__ == "__main__":
    sys.exit(main())
