"""Train MambAttention on (noisy, clean) pairs synthesised with the DNS Challenge 2020 scripts.

    python -m recipes.enhancement.dns2020.train --root /data/dns2020/training --out runs/dns
    torchrun --nproc_per_node 4 -m recipes.enhancement.dns2020.train --root /data/dns2020/training --out runs/dns

The root holds ``noisy/*_fileid_N.wav`` and ``clean/clean_fileid_N.wav`` as the challenge's
``noisyspeech_synthesizer`` writes them. Every ``--val-every`` steps the model is scored on every
``--val-stride``-th training pair, held out of training, and the best weights by PESQ are kept in
``OUT/best.*``; re-running resumes. The challenge's no-reverb test set scores the result:
``python -m recipes.enhancement.dns2020.evaluate --noisy .../no_reverb/noisy --clean .../no_reverb/clean``.
"""

import sys

from tfsignal.arguments import recipe_parser
from tfsignal.train.enhancement import add_paired_training_flags, train_paired_folders


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__)
    add_paired_training_flags(parser, default_model="mambattention")
    return train_paired_folders(parser.parse_args(argv), dataset_name="DNS Challenge 2020")


if __name__ == "__main__":
    sys.exit(main())
