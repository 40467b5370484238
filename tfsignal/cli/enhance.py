"""``tfsignal enhance`` / ``enhance``: speech enhancement of files or folders."""

from __future__ import annotations

import argparse
import contextlib
import sys

DESCRIPTION = (
    "Remove noise from speech recordings. Any rate and channel count in; the model runs at its own "
    "rate (16 kHz) and each output keeps its input's rate and channels."
)
EXAMPLE = """examples:
  enhance noisy.wav -o clean.wav
  enhance recordings/ -o enhanced/ --chunk-seconds 8
  tfsignal enhance a.wav b.flac -o out/ --overwrite
  enhance noisy.wav -o clean.wav --spectrogram before_after.png"""
DEFAULT_MODEL = "enhancer"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="IN", help="audio files or folders")
    parser.add_argument(
        "-o", "--output", required=True, help="output file (one input) or folder (several inputs or a folder)"
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"shipped model name or saved model folder (default: {DEFAULT_MODEL})",
    )
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument(
        "--chunk-seconds",
        type=float,
        default=4.0,
        help="seconds of audio per block (default: 4); a streaming model carries its state from block to block, "
        "others overlap-add chunks of this length",
    )
    parser.add_argument(
        "--backend",
        choices=["torch", "onnx"],
        default="torch",
        help="inference engine: PyTorch, or onnxruntime on an exported graph (--model a .onnx file from "
        "'tfsignal export', or a model exported for this run); a streaming graph runs one frame at a time "
        "as a device runs it",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument(
        "--spectrogram",
        metavar="PNG",
        help="also draw input and output spectrograms (the first ten minutes): a .png file for one input, "
        "a folder for several",
    )
    parser.set_defaults(func=run)


def add_parser(sub, name: str) -> None:
    parser = sub.add_parser(
        name,
        help="remove noise from speech",
        description=DESCRIPTION,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)


def run(args) -> int:
    from .common import UserError, check_seconds, expand_inputs, plan_outputs

    check_seconds("--chunk-seconds", args.chunk_seconds)
    inputs = expand_inputs(args.inputs)
    with enhancer(args) as model:
        if not (hasattr(model, "enhance") or hasattr(model, "stream")):
            raise UserError(f"{args.model}: not a speech enhancement model (try enhancer or enhancer-stream)")
        outputs = plan_outputs(inputs, args.output)
        args.pictures = plan_pictures(inputs, args.spectrogram) if args.spectrogram else None
        return process_files(model, inputs, outputs, args)


@contextlib.contextmanager
def enhancer(args):
    """The model ``--model`` and ``--backend`` ask for. With ``--backend onnx``: onnxruntime on an
    exported enhancer graph (a .onnx file, or the model exported for this run), the streaming graph
    of a streaming model, the offline spectral graph of any other."""
    from .common import UserError, load_model, onnx_runner

    if args.backend == "torch":
        yield load_model(args.model, args.device)
        return
    from tfsignal.export import open_enhancer, to_onnx, to_onnx_streaming

    def export(model, folder):
        if hasattr(model, "step_frame"):
            return to_onnx_streaming(model, folder / "enhancer.onnx")
        if not hasattr(model, "enhance"):
            raise UserError(f"{args.model}: not an enhancement model")
        print(f"exporting {args.model} to ONNX first (about a minute)", file=sys.stderr, flush=True)
        return to_onnx(model, folder / "enhancer.onnx")

    with onnx_runner(args.model, open_enhancer, export) as graph:
        yield graph


def plan_pictures(inputs, target: str):
    """``target`` itself for one input and a .png name, else ``target/NAME.png`` per input (the folder
    is made by the batch when needed)."""
    from pathlib import Path

    from .common import UserError, in_existing_folder

    out = Path(target)
    if len(inputs) == 1 and out.suffix.lower() == ".png":
        return [in_existing_folder(out)]
    if out.suffix.lower() == ".png" or (out.exists() and not out.is_dir()):
        raise UserError(f"{out}: several inputs need a folder for --spectrogram")
    return [out / f"{p.stem}.png" for p in inputs]


PICTURE_SECONDS = 600  # --spectrogram draws at most the first ten minutes


def process_files(model, inputs, outputs, args) -> int:
    """Enhance each input into its output (and its --spectrogram picture); a bad file is reported
    and the batch goes on.

    Each file streams through :func:`tfsignal.chunking.chunked_file` (read, resample, overlap-added
    chunks, resample back, write block by block), so memory does not grow with its length. A
    streaming model (one with ``stream()``, or an ONNX streaming graph) carries its state across
    blocks instead, so the output has no chunk boundaries.
    """
    import torch

    from tfsignal.chunking import chunked_file
    from tfsignal.io import AudioReader

    from .common import process_batch

    rate = model.sample_rate
    chunk = int(args.chunk_seconds * rate)

    def work(src, dsts):
        with torch.inference_mode():  # long files get a progress bar
            chunked_file(
                getattr(model, "enhance", None),
                src,
                dsts[0],
                rate,
                chunk,
                chunk // 4,
                device=args.device,
                overwrite=args.overwrite,
                stream=getattr(model, "stream", None),  # streaming models carry their state instead
            )
        if len(dsts) > 1:
            from tfsignal.plot import spectrogram_comparison

            with AudioReader(src) as a, AudioReader(dsts[0]) as b:
                n = min(a.frames, int(PICTURE_SECONDS * a.rate))
                spectrogram_comparison(a.read(0, n)[0], b.read(0, n)[0], a.rate, dsts[1], overwrite=args.overwrite)

    pictures = getattr(args, "pictures", None) or [None] * len(inputs)
    jobs = [(src, [dst] if pic is None else [dst, pic]) for src, dst, pic in zip(inputs, outputs, pictures)]
    return process_batch(jobs, work, args.overwrite)
