"""Train a TIGER separator on a local copy of Libri2Mix (Cosentino et al., 2020).

    python -m recipes.separation.libri2mix.train --root /data/Libri2Mix --out runs/libri2mix --model tiger-small
    torchrun --nproc_per_node 4 -m recipes.separation.libri2mix.train --root /data/Libri2Mix --out runs/libri2mix

Layout, as LibriMix's generator writes it (--root is the Libri2Mix folder, or its wav16k/min):

    Libri2Mix/wav16k/min/{train-100,train-360,dev,test}/{mix_clean,mix_both,mix_single,s1,s2,noise}/ID.wav
    Libri2Mix/wav16k/min/metadata/mixture_{split}_{mix_clean,mix_both}.csv

--mixture mix_clean (the default: the two speakers alone, the published benchmark) or mix_both
(with WHAM! noise; the targets stay s1 and s2); --rate-folder and --mode choose wav8k / wav16k and
min / max. Training crops --segment-seconds (default 3 s) of the train split at random with
permutation-invariant SI-SNR; every --val-every steps the first --val-clips dev mixtures are scored
and the best weights by SI-SNRi kept in OUT/best.* with the data and command; re-running resumes.
"""

from __future__ import annotations

import shlex
import sys

from tfsignal.arguments import recipe_parser
from tfsignal.data.folders import libri2mix_items
from tfsignal.train.separation import add_folder_training_flags, train_on_folders

MODULE = "recipes.separation.libri2mix.train"


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__, prog=f"python -m {MODULE}")
    add_folder_training_flags(parser, train_split="train-100", val_split="dev")
    parser.add_argument("--mixture", choices=["mix_clean", "mix_both"], default="mix_clean")
    parser.add_argument("--rate-folder", choices=["wav16k", "wav8k"], default="wav16k")
    parser.add_argument("--mode", choices=["min", "max"], default="min")
    args = parser.parse_args(argv)
    command = f"python -m {MODULE} " + shlex.join(sys.argv[1:] if argv is None else argv)
    return train_on_folders(
        args, lambda a, split: libri2mix_items(a.root, split, a.mixture, a.rate_folder, a.mode), command
    )


if __name__ == "__main__":
    sys.exit(main())
