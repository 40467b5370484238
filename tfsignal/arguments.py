"""Command-line pieces the recipes share: the parser built from a module's docstring, argument types
and the one-line usage error.

A user's mistake is reported as one line on stderr with exit code 2, as the ``tfsignal`` commands do.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["recipe_parser", "positive_int", "config_overrides", "usage_error"]


def recipe_parser(doc: str, prog: str | None = None) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` whose description is the first line of ``doc`` (a recipe module's
    docstring) and whose epilog, shown by ``--help`` as written, is the rest: its example commands
    and notes."""
    first, _, rest = doc.strip().partition("\n\n")
    return argparse.ArgumentParser(
        prog=prog, description=first, epilog=rest or None, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def config_overrides(pairs: list[str]) -> dict:
    """``--set`` values as config fields: ``["channels=24", "stft_backend=conv"]`` ->
    ``{"channels": 24, "stft_backend": "conv"}`` (a value is read as JSON when it parses, else kept
    as text); ValueError for an item without ``=``."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def usage_error(message: str) -> SystemExit:
    """Print ``error: message`` on stderr and return the ``SystemExit(2)`` for the caller to raise."""
    print(f"error: {message}", file=sys.stderr)
    return SystemExit(2)
