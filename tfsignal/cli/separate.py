"""``tfsignal separate``: split each mixture into one file per speaker."""

from __future__ import annotations

import argparse
import contextlib
import sys

DESCRIPTION = (
    "Separate the speakers of each recording into OUT/NAME_s1.EXT, OUT/NAME_s2.EXT, ... at the input's "
    "rate (channels are mixed down to mono). Long recordings go through the model in overlapping chunks "
    "and each speaker keeps its number from the first chunk to the last."
)
EXAMPLE = """examples:
  tfsignal separate mix.wav -o outdir/ --model runs/tiger/
  tfsignal separate meeting.flac calls/ -o separated/ --model runs/tiger/ --chunk-seconds 10"""
DEFAULT_MODEL = "separator"  # the shipped separator, once there is one in models/pretrained/


def add_parser(sub, name: str) -> None:
    parser = sub.add_parser(
        name,
        help="separate speakers in a mixture",
        description=DESCRIPTION,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="audio files or folders")
    parser.add_argument("-o", "--output", required=True, help="output folder (created if missing)")
    parser.add_argument(
        "--model",
        help=f"shipped model name or saved model folder (default: the shipped '{DEFAULT_MODEL}', when there is one)",
    )
    parser.add_argument("--n-sources", type=int, help="fail unless the model separates this many sources")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument(
        "--backend",
        choices=["torch", "onnx"],
        default="torch",
        help="inference engine: PyTorch, or onnxruntime on an exported graph (--model a .onnx file from "
        "'tfsignal export', or a model exported on the fly)",
    )
    parser.add_argument("--chunk-seconds", type=float, default=8.0, help="chunk length for long files (default: 8)")
    parser.add_argument(
        "--overlap-seconds", type=float, default=2.0, help="overlap of neighbouring chunks (default: 2)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from tfsignal import models

    from .common import UserError, check_seconds, expand_inputs

    check_seconds("--chunk-seconds", args.chunk_seconds)
    check_seconds("--overlap-seconds", args.overlap_seconds)
    if not args.overlap_seconds < args.chunk_seconds:
        raise UserError(
            f"need 0 < --overlap-seconds < --chunk-seconds, got {args.overlap_seconds:g} and {args.chunk_seconds:g}"
        )
    if args.model is None:
        if DEFAULT_MODEL not in models.pretrained():
            raise UserError("no separation model ships yet; pass --model with a saved separator's folder")
        args.model = DEFAULT_MODEL
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: separate writes one file per source into a folder, and this is a file")
    inputs = expand_inputs(args.inputs)
    with separator(args) as model:
        n_sources = getattr(model, "n_sources", None)
        if n_sources is None:
            raise UserError(f"{args.model}: not a separation model")
        if args.n_sources is not None and args.n_sources != n_sources:
            raise UserError(f"{args.model} separates {n_sources} sources, not {args.n_sources} (--n-sources)")
        return process_files(model, inputs, out, args)


@contextlib.contextmanager
def separator(args):
    """The model ``--model`` and ``--backend`` ask for: a PyTorch model, or an onnxruntime session on
    an exported graph (a .onnx file with its spec, or the model exported for this run)."""
    from .common import UserError, load_model, onnx_runner

    if args.backend == "torch":
        yield load_model(args.model, args.device)
        return
    from tfsignal.export import OnnxSeparator, to_onnx

    def export(model, folder):
        if getattr(model, "n_sources", None) is None:
            raise UserError(f"{args.model}: not a separation model")
        print(f"exporting {args.model} to ONNX first (a minute or two)", file=sys.stderr, flush=True)
        return to_onnx(model, folder / "separator.onnx")

    with onnx_runner(args.model, OnnxSeparator, export) as graph:
        yield graph


def output_names(src, folder, n_sources: int) -> list:
    """``folder/NAME_s1.EXT`` ... for one input (WAV for inputs without a suffix)."""
    return [folder / f"{src.stem}_s{k + 1}{src.suffix or '.wav'}" for k in range(n_sources)]


def process_files(model, inputs, folder, args) -> int:
    """Separate each input; a bad file is reported on one line and the batch goes on.

    Each file streams through :func:`tfsignal.chunking.chunked_file` (read, mix down, resample,
    chunks whose sources are aligned to the previous chunk's, resample back, every source's file
    written block by block), so memory does not grow with its length.
    """
    import torch

    from tfsignal.chunking import chunked_file
    from tfsignal.separation import aligned_separator

    from .common import process_batch

    rate = model.sample_rate
    chunk, overlap = int(round(args.chunk_seconds * rate)), max(1, int(round(args.overlap_seconds * rate)))

    def work(src, dsts):
        with torch.inference_mode():  # long files get a progress bar
            fn = aligned_separator(model, overlap)
            chunked_file(fn, src, dsts, rate, chunk, overlap, 1, args.device, args.overwrite, mono=True)

    jobs = [(src, output_names(src, folder, model.n_sources)) for src in inputs]
    return process_batch(jobs, work, args.overwrite)
