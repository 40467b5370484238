"""Train a TIGER separator on a local copy of EchoSet (Xu et al., ICLR 2025, with TIGER).

    python -m recipes.separation.echoset.train --root /data/EchoSet --out runs/echoset --model tiger-large

EchoSet pairs two speakers in simulated rooms (occluding objects, wall materials) with noise, at
random overlap ratios; the targets are each speaker's reverberant speech. Layout read (one folder
per mixture, as the authors' archive unpacks; folders may be nested deeper):

    EchoSet/{train,val,test}/<mixture id>/mix.wav
    EchoSet/{train,val,test}/<mixture id>/spk1_reverb.wav, spk2_reverb.wav

Training crops --segment-seconds (default 3 s) of the train mixtures at random with
permutation-invariant SI-SNR; every --val-every steps the first --val-clips val mixtures are scored
and the best weights by SI-SNRi kept in OUT/best.* with the data and command; re-running resumes.
"""

from __future__ import annotations

import shlex
import sys

from tfsignal.arguments import recipe_parser
from tfsignal.data.folders import echoset_items
from tfsignal.train.separation import add_folder_training_flags, train_on_folders

MODULE = "recipes.separation.echoset.train"


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(__doc__, prog=f"python -m {MODULE}")
    add_folder_training_flags(parser, train_split="train", val_split="val")
    args = parser.parse_args(argv)
    command = f"python -m {MODULE} " + shlex.join(sys.argv[1:] if argv is None else argv)
    return train_on_folders(args, lambda a, split: echoset_items(a.root, split), command)


if __name__ == "__main__":
    sys.exit(main())
