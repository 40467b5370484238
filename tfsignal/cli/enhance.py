"""``tfsignal enhance`` / ``enhance``: speech enhancement of files or folders."""

from __future__ import annotations

import argparse

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
        help="inference engine: PyTorch, or onnxruntime on the streaming graph (--model a streaming model or "
        "a .onnx file from 'tfsignal export --streaming'), one frame at a time as a device runs it",
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
    from .common import expand_inputs, load_model, plan_outputs

    if args.chunk_seconds <= 0:
        from .common import UserError

        raise UserError(f"--chunk-seconds must be positive, got {args.chunk_seconds}")
    inputs = expand_inputs(args.inputs)
    outputs = plan_outputs(inputs, args.output)
    args.pictures = plan_pictures(inputs, args.spectrogram) if args.spectrogram else None
    if args.backend == "onnx":
        return process_with_onnx(inputs, outputs, args)
    model = load_model(args.model, args.device)
    return process_files(model, inputs, outputs, args)


def process_with_onnx(inputs, outputs, args) -> int:
    """Run the streaming ONNX graph: ``--model`` an exported .onnx (with its spec) or a streaming
    model, exported first into a temporary folder."""
    import tempfile
    from pathlib import Path

    from tfsignal.export import OnnxEnhancer, to_onnx_streaming

    from .common import UserError, load_model

    if args.model.endswith(".onnx"):
        if not Path(args.model).exists():
            raise UserError(f"{args.model}: no such file")
        try:
            return process_files(OnnxEnhancer(args.model), inputs, outputs, args)
        except FileNotFoundError as err:
            raise UserError(str(err)) from None
    model = load_model(args.model)
    if not hasattr(model, "step_frame"):
        raise UserError(f"{args.model}: not a streaming model, so it has no ONNX streaming graph; use --backend torch")
    with tempfile.TemporaryDirectory() as folder:
        path = to_onnx_streaming(model, Path(folder) / "enhancer.onnx")
        return process_files(OnnxEnhancer(path), inputs, outputs, args)


def plan_pictures(inputs, target: str):
    """``target`` itself for one input and a .png name, else ``target/NAME.png`` per input."""
    from pathlib import Path

    from .common import UserError

    out = Path(target)
    if len(inputs) == 1 and out.suffix.lower() == ".png":
        return [out]
    if out.suffix.lower() == ".png" or (out.exists() and not out.is_dir()):
        raise UserError(f"{out}: several inputs need a folder for --spectrogram")
    out.mkdir(parents=True, exist_ok=True)
    return [out / f"{p.stem}.png" for p in inputs]


PICTURE_SECONDS = 600  # --spectrogram draws at most the first ten minutes


def process_files(model, inputs, outputs, args) -> int:
    """Enhance each input into its output; a bad file is reported and the batch goes on.

    Each file streams through :func:`tfsignal.chunking.chunked_file` (read, resample, overlap-added
    chunks, resample back, write block by block), so memory does not grow with its length. A
    streaming model (one with ``stream()``, or an ONNX streaming graph) carries its state across
    blocks instead, so the output has no chunk boundaries.
    """
    import torch

    from tfsignal.chunking import chunked_file
    from tfsignal.io import AudioReader, InputFileError, check_output_path

    from .common import warn

    failures = 0
    rate = model.sample_rate
    chunk = int(args.chunk_seconds * rate)
    for i, (src, dst) in enumerate(zip(inputs, outputs)):
        picture = args.pictures[i] if getattr(args, "pictures", None) else None
        try:
            if dst.resolve() == src.resolve():
                raise InputFileError(dst, "output would overwrite its input")
            check_output_path(dst, args.overwrite)
            if picture is not None:
                check_output_path(picture, args.overwrite)
            with torch.inference_mode():  # long files get a progress bar
                chunked_file(
                    getattr(model, "enhance", None),
                    src,
                    dst,
                    rate,
                    chunk,
                    chunk // 4,
                    device=args.device,
                    overwrite=args.overwrite,
                    stream=getattr(model, "stream", None),  # streaming models carry their state instead
                )
            print(dst)
            if picture is not None:
                from tfsignal.plot import spectrogram_comparison

                with AudioReader(src) as a, AudioReader(dst) as b:
                    n = min(a.frames, int(PICTURE_SECONDS * a.rate))
                    spectrogram_comparison(a.read(0, n)[0], b.read(0, n)[0], a.rate, picture, overwrite=args.overwrite)
                print(picture)
        except InputFileError as err:
            warn(str(err))
            failures += 1
    return 2 if failures else 0
