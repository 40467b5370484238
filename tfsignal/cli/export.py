"""``tfsignal export MODEL -o model.onnx``: ONNX export checked against PyTorch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import UserError, load_model


def add_parser(sub, name: str) -> None:
    parser = sub.add_parser(
        name,
        help="export a model to ONNX",
        description="Export a shipped model or tokenizer, a saved one, or a named configuration to ONNX "
        "with a JSON spec beside it (inputs, outputs, dynamic axes, pre- and post-processing), then run it "
        "in onnxruntime at two input sizes and report the largest difference from PyTorch.",
        epilog="examples:\n  tfsignal export enhancer -o enhancer.onnx\n"
        "  tfsignal export tfm -o tfm.onnx                         # the tokenizer's encoder: signal -> tokens\n"
        "  tfsignal export enhancer-stream --streaming -o stream.onnx   # one STFT frame per call, states explicit\n"
        "  tfsignal export --print-spec enhancer.onnx",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model",
        help="shipped name, folder or .json path, or a configuration name (or, with "
        "--print-spec, an exported .onnx file)",
    )
    parser.add_argument("-o", "--output", help="ONNX file to write (its spec goes beside it as FILE.json)")
    parser.add_argument(
        "--streaming",
        action="store_true",
        help="export a streaming enhancer's one-frame step with its state as inputs and outputs (for devices)",
    )
    parser.add_argument("--print-spec", action="store_true", help="show the JSON spec written beside an exported graph")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1e-3,
        help="fail when onnxruntime and PyTorch differ by more (default 1e-3)",
    )
    parser.set_defaults(func=run)


def exportable(name: str):
    """The network behind ``name``: a configuration (fresh weights), a shipped or saved model, or the
    encoder of a shipped or saved tokenizer (signal in, token indices out)."""
    from tfsignal import models, weights
    from tfsignal.tokenizers import load_tokenizer

    if name in models.available() and name not in models.pretrained():
        return models.create(name).eval()
    try:
        kind = weights.config(name)["kind"]
    except (FileNotFoundError, ValueError) as err:
        raise UserError(str(err.args[0] if err.args else err)) from None
    if kind == "tokenizer":
        return load_tokenizer(name).network_.eval()
    if kind == "classifier":
        raise UserError(f"{name}: a fitted classifier (standardiser, ensemble); export one of its networks instead")
    return load_model(name)


def model_files(name: str) -> set[Path]:
    """The files a saved model or tokenizer ``name`` is read from (none for a configuration name)."""
    from tfsignal import weights

    try:
        config = weights.resolve(name)
    except (FileNotFoundError, ValueError):
        return set()
    return {config.resolve(), config.with_suffix(".safetensors").resolve()}


def run(args) -> int:
    import json
    import math
    import tempfile
    import time

    from tfsignal.export import check, check_streaming, read_spec, to_onnx, to_onnx_streaming
    from tfsignal.io import publish

    if not (0 <= args.tolerance < math.inf):
        raise UserError(f"--tolerance must be a non-negative number, got {args.tolerance:g}")
    if args.print_spec:
        try:
            print(json.dumps(read_spec(args.model), indent=2))
        except (FileNotFoundError, json.JSONDecodeError) as err:
            raise UserError(str(err)) from None
        return 0
    if not args.output:
        raise UserError("an output file is needed: -o model.onnx")
    output = Path(args.output)
    sidecar = output.with_name(output.name + ".json")
    for target in (output, sidecar):
        if target.resolve() in model_files(args.model):
            raise UserError(f"{target}: is a file of the model {args.model}; choose another output")
        if target.exists() and not args.overwrite:
            raise UserError(f"{target}: already exists (use --overwrite to replace it)")
    if output.suffix.lower() != ".onnx":
        raise UserError(f"{output}: name the output FILE.onnx")
    if not output.parent.is_dir():
        raise UserError(f"{output.parent}: no such folder")
    model = exportable(args.model)
    if args.streaming and not hasattr(model, "step_frame"):
        raise UserError(f"{args.model}: not a streaming model; export it without --streaming")
    print(f"exporting {args.model} to {output} (about a minute on 2 cores)", file=sys.stderr, flush=True)
    started = time.perf_counter()
    # written and checked in a hidden folder beside the output, published only when the check passes
    with tempfile.TemporaryDirectory(prefix=".export-", dir=output.parent) as folder:
        staged = Path(folder) / output.name
        if args.streaming:
            to_onnx_streaming(model, staged)
            diff = check_streaming(staged, model)
        else:
            to_onnx(model, staged)
            diff = check(staged, model)
        seconds = time.perf_counter() - started
        if not diff <= args.tolerance:
            raise UserError(
                f"{output}: ONNX output differs from PyTorch by {diff:.2e} > {args.tolerance:g}; nothing written"
            )
        publish(staged.with_name(sidecar.name), sidecar)
        publish(staged, output)
    print(f"{output} (+ {sidecar.name}): {seconds:.0f} s, max |onnxruntime - torch| = {diff:.2e}")
    return 0
