"""Score a baseline on VB-DemandEx's test pairs: wide-band PESQ, ESTOI and SI-SDR.

    python -m recipes.enhancement.vb_demandex.evaluate --noisy /data/VB-DemandEx/noisy_testset_wav \\
        --clean /data/VB-DemandEx/clean_testset_wav --method rnnoise

Methods: ``noisy`` (the unprocessed input, the floor to beat), ``spectral_gating`` (noisereduce) and
``rnnoise`` (pyrnnoise); the baselines need ``pip install noisereduce pyrnnoise``. Files pair up by
name. The last line printed is a JSON object of mean scores; ``--report`` also writes every file's.
"""

import sys

from tfsignal.arguments import recipe_parser
from tfsignal.evaluation.enhancement import add_scoring_flags, score_folders


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__)
    add_scoring_flags(parser)
    return score_folders(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
