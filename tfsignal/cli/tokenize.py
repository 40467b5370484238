"""``tfsignal tokenize``: EEG/MEG recordings to discrete tokens."""

from __future__ import annotations


def add_parser(sub, name: str) -> None:
    parser = sub.add_parser(
        name,
        help="tokenise an EEG/MEG recording",
        description="Turn an EEG/MEG recording (.edf, .bdf, .fif, .vhdr) into integer tokens.",
        epilog="example: tfsignal tokenize rec.edf -o tokens.npz --tokenizer tfm",
    )
    parser.add_argument("input", help="recording file")
    parser.add_argument("-o", "--output", required=True, help=".npz file to write")
    parser.add_argument("--tokenizer", default="tfm", help="shipped tokenizer name or folder")
    parser.add_argument("--overwrite", action="store_true")
    parser.set_defaults(func=run)


def run(args) -> int:
    from .common import UserError

    raise UserError("tfsignal tokenize: no EEG tokenizer ships yet (see README.md, Roadmap)")
