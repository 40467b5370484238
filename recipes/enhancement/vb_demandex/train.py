"""Train MambAttention on a local VB-DemandEx copy (the paper's setting: 2 s segments, AdamW 5e-4).

    python -m recipes.enhancement.vb_demandex.train --root /data/VB-DemandEx --out runs/vbd
    torchrun --nproc_per_node 4 -m recipes.enhancement.vb_demandex.train --root /data/VB-DemandEx --out runs/vbd

The root holds ``noisy_trainset*/`` + ``clean_trainset*/`` (and the test folders, which training
never reads). Every ``--val-every`` steps the model is scored on every ``--val-stride``-th training
pair, held out of training, and the best weights by PESQ are kept in ``OUT/best.*``; re-running
resumes. Score the result with ``python -m recipes.enhancement.vb_demandex.evaluate`` on the test folders.
"""

import sys

from tfsignal.arguments import recipe_parser
from tfsignal.train.enhancement import add_paired_training_flags, train_paired_folders


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__)
    add_paired_training_flags(parser, default_model="mambattention")
    return train_paired_folders(parser.parse_args(argv), dataset_name="VB-DemandEx")


if __name__ == "__main__":
    sys.exit(main())
