"""Pieces the subcommands share: user errors, model lookup, input expansion, output naming."""

from __future__ import annotations

import sys
from pathlib import Path

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".caf", ".w64", ".opus"}


class UserError(Exception):
    """A mistake in how the command was called; printed as one line, exit code 2."""


def warn(message: str) -> None:
    print(" ".join(message.split()), file=sys.stderr)


def load_model(name_or_path: str, device: str = "cpu"):
    """A shipped model by name, or a saved one from a folder or path, as a UserError if missing."""
    from tfsignal import models

    try:
        return models.load(name_or_path, device=device)
    except (FileNotFoundError, KeyError) as err:
        raise UserError(err.args[0] if err.args else str(err)) from None


def expand_inputs(inputs: list[str], suffixes: set[str] = AUDIO_SUFFIXES) -> list[Path]:
    """Files as given, and the matching files inside any folder given (sorted, not recursive).

    Missing paths are kept, so that the batch reports them one by one and goes on.
    """
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes and p.is_file())
            if not found:
                warn(f"{path}: no audio files in this folder")
            files.extend(found)
        else:
            files.append(path)
    return files


def plan_outputs(inputs: list[Path], output: str, suffix: str = "") -> list[Path]:
    """One output path per input: ``output`` itself for a single file that is not a folder,
    otherwise ``output/NAME{suffix}.EXT`` (the folder is created)."""
    out = Path(output)
    if len(inputs) == 1 and not out.is_dir() and out.suffix:
        return [out]
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: several inputs need an output folder, and this is a file")
    out.mkdir(parents=True, exist_ok=True)
    return [out / f"{p.stem}{suffix}{p.suffix or '.wav'}" for p in inputs]
