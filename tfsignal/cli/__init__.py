"""Command line: ``tfsignal {enhance,separate,tokenize,classify,export,info}`` and ``enhance``.

User mistakes, unreadable inputs and failed writes print one line on stderr and exit with code 2;
``--debug`` (before or after the command) shows the traceback instead. Warnings are one line each.
Ctrl-C (exit 130) and SIGTERM (exit 143) stop a command without leaving partial outputs behind.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import warnings

from tfsignal import __version__

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
DEBUG_HELP = "show tracebacks"


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so temporary files are removed on the way out."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfsignal",
        description="Time-frequency front ends and attention backbones for audio, EEG/MEG and series.",
        epilog="example: tfsignal enhance noisy.wav -o clean.wav",
    )
    parser.add_argument("--version", action="version", version=f"tfsignal {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_parser(sub, name)
        # also after the command; SUPPRESS keeps a --debug given before it
        sub.choices[name].add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)


@contextlib.contextmanager
def _command_environment(debug: bool):
    """One-line warnings (unless ``debug``) and SIGTERM raised as :class:`Terminated`, for one run."""

    def terminate(signum, frame):
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = _one_line_warning
        try:
            yield
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


def _run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    args = parser.parse_args(argv)
    try:
        with _command_environment(args.debug):
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except BrokenPipeError:  # `tfsignal info | head`: the reader left; stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except (UserError, ValueError, KeyError, OSError, ImportError) as err:
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
    parser.add_argument("--version", action="version", version=f"enhance (tfsignal {__version__})")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    enhance.add_arguments(parser)
    return _run(parser, argv)
