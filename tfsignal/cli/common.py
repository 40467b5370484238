"""Pieces the subcommands share: user errors, model lookup, input expansion, output naming and the
batch loop (one bad input is reported on one line and the rest of the batch goes on)."""

from __future__ import annotations

import contextlib
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".caf", ".w64", ".opus"}


class UserError(Exception):
    """A mistake in how the command was called; printed as one line, exit code 2."""


def warn(message: str) -> None:
    print(" ".join(message.split()), file=sys.stderr)


def check_seconds(flag: str, value: float) -> float:
    """``value`` if it is a positive, finite number of seconds, else a UserError naming ``flag``."""
    if not 0 < value < math.inf:
        raise UserError(f"{flag} must be a positive number of seconds, got {value:g}")
    return value


def check_device(name: str) -> str:
    """``name`` if torch can run on it here, else a UserError saying why (``--device`` of every command)."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise UserError(f"--device {name}: not a torch device (cpu, cuda, cuda:1, mps, ...)") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(device.type, True):
        raise UserError(f"--device {name}: this machine (or this build of torch) has no {device.type} device")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError(f"--device {name}: there are {torch.cuda.device_count()} CUDA device(s)")
    return name


def load_model(name_or_path: str, device: str = "cpu"):
    """A shipped model by name, or a saved one from a folder or path, as a UserError if missing."""
    from tfsignal import models

    check_device(device)
    try:
        return models.load(name_or_path, device=device)
    except (FileNotFoundError, KeyError) as err:
        raise UserError(err.args[0] if err.args else str(err)) from None


@contextlib.contextmanager
def onnx_runner(model: str, open_graph: Callable, export: Callable):
    """What ``--backend onnx`` runs: ``open_graph(path)`` on the .onnx file ``model`` names (its spec
    beside it), or on the graph ``export(loaded_model, folder)`` writes for the model ``model`` names,
    in a temporary folder that lives as long as the context. A graph that cannot be read, or is not
    what ``open_graph`` runs (a ValueError), is a UserError."""
    if model.endswith(".onnx"):
        if not Path(model).is_file():
            raise UserError(f"{model}: no such file")
        try:
            runner = open_graph(model)
        except (FileNotFoundError, ValueError) as err:
            raise UserError(str(err)) from None
        yield runner
        return
    loaded = load_model(model)
    with tempfile.TemporaryDirectory() as folder:
        yield open_graph(export(loaded, Path(folder)))


def expand_inputs(inputs: list[str], suffixes: set[str] = AUDIO_SUFFIXES, what: str = "audio") -> list[Path]:
    """Files as given, and the matching files inside any folder given (sorted, not recursive).

    Missing paths are kept, so that the batch reports them one by one and goes on. Nothing to do at
    all (only empty folders) is a UserError, raised before any output is created.
    """
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes and p.is_file())
            if not found:
                warn(f"{path}: no {what} files in this folder ({', '.join(sorted(suffixes))})")
            files.extend(found)
        else:
            files.append(path)
    if not files:
        raise UserError(f"no {what} files to process in {', '.join(inputs)}")
    return files


def plan_outputs(inputs: list[Path], output: str, suffix: str = "") -> list[Path]:
    """One output path per input: ``output`` itself for a single file that is not a folder (its
    folder must exist), otherwise ``output/NAME{suffix}.EXT`` (the folder is made by
    :func:`process_batch` when the first output needs it)."""
    out = Path(output)
    if len(inputs) == 1 and not out.is_dir() and out.suffix:
        return [in_existing_folder(out)]
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: several inputs need an output folder, and this is a file")
    return [out / f"{p.stem}{suffix}{p.suffix or '.wav'}" for p in inputs]


def in_existing_folder(path: Path) -> Path:
    """``path``, or a UserError when the folder it goes into does not exist (one output file)."""
    if not path.parent.is_dir():
        raise UserError(f"{path}: folder {path.parent} does not exist")
    return path


def process_batch(
    jobs: list[tuple[Path, list[Path]]], work: Callable[[Path, list[Path]], None], overwrite: bool
) -> int:
    """Run ``work(src, dsts)`` for each input and the outputs planned for it, printing each output.

    Before an input's work starts its outputs are checked: none may be an input of the batch or an
    output of an earlier input, and none may exist unless ``overwrite``. An InputFileError (from
    the checks or from ``work``, :class:`tfsignal.io.OutputFileError` included) or another
    ValueError, a MemoryError or an OSError is printed as one line naming the input, and the batch
    goes on.
    Output folders that do not exist yet are made when an output first needs them, and removed
    again at the end if nothing was written into them. Returns the exit code: 0, or 2 when any
    input failed.
    """
    from tfsignal.io import InputFileError, check_output_path

    sources = {src.resolve() for src, _ in jobs}
    planned: dict[Path, Path] = {}  # output -> the input that writes it in this run
    made: list[Path] = []  # folders this batch made, outermost first
    failures = 0
    try:
        for src, dsts in jobs:
            try:
                for dst in dsts:
                    target = dst.resolve()
                    if target in sources:
                        raise InputFileError(dst, "output would overwrite an input")
                    if target in planned:
                        raise InputFileError(src, f"its output {dst} is also the output of {planned[target]}")
                    made += make_folder(dst.parent)
                    check_output_path(dst, overwrite)
                planned.update({dst.resolve(): src for dst in dsts})
                work(src, dsts)
                for dst in dsts:
                    print(dst)
            except ValueError as err:  # InputFileError names the file; other refusals (a model's) do not
                warn(str(err) if isinstance(err, InputFileError) else f"{src}: {err}")
                failures += 1
            except MemoryError:  # a header's absurd rate or length can ask for terabytes
                warn(f"{src}: needs more memory than there is (a damaged header?)")
                failures += 1
            except OSError as err:  # not an input's fault (those are InputFileErrors): the disk, the folder
                warn(f"{src}: {err}")
                failures += 1
    finally:
        for folder in reversed(made):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    return 2 if failures else 0


def make_folder(folder: Path) -> list[Path]:
    """Make ``folder`` and any missing parents; returns the folders made, outermost first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing[::-1]
