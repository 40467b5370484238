"""``tfsignal separate``: split a mixture into its speakers."""

from __future__ import annotations

import argparse


def add_parser(sub, name: str) -> None:
    parser = sub.add_parser(
        name,
        help="separate speakers in a mixture",
        description="Separate each mixture into one file per source: OUT/NAME_s1.wav, NAME_s2.wav...",
        epilog="example: tfsignal separate mix.wav -o outdir/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="audio files or folders")
    parser.add_argument("-o", "--output", required=True, help="output folder")
    parser.add_argument("--model", default="separator", help="shipped model name or folder")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(func=run)


def run(args) -> int:
    from .common import UserError

    raise UserError("tfsignal separate: no separation model ships yet (see README.md, Roadmap)")
