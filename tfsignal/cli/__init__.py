"""Command line: ``tfsignal {enhance,separate,tokenize,classify,export,info}`` and ``enhance``.

User mistakes print one line on stderr and exit with code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys

from . import classify, enhance, export, info, separate, tokenize
from .common import UserError

COMMANDS = {
    "enhance": enhance,
    "separate": separate,
    "tokenize": tokenize,
    "classify": classify,
    "export": export,
    "info": info,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfsignal",
        description="Time-frequency front ends and attention backbones for audio, EEG/MEG and series.",
        epilog="example: tfsignal enhance noisy.wav -o clean.wav",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_parser(sub, name)
    return parser


def _run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (UserError, ValueError, KeyError, FileNotFoundError, FileExistsError, ImportError) as err:
        if args.debug:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"{parser.prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    return _run(build_parser(), argv)


def enhance_main(argv: list[str] | None = None) -> int:
    """The ``enhance`` console script: ``tfsignal enhance`` under a shorter name."""
    parser = argparse.ArgumentParser(
        prog="enhance",
        epilog=enhance.EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=enhance.DESCRIPTION,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    enhance.add_arguments(parser)
    return _run(parser, argv)
