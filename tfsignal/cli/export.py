"""``tfsignal export MODEL -o model.onnx``: ONNX export checked against PyTorch."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import UserError, load_model


def add_parser(sub, name: str) -> None:
    parser = sub.add_parser(
        name,
        help="export a model to ONNX",
        description="Export a shipped model, a saved model folder or a named configuration to ONNX, "
        "then run it in onnxruntime and report the largest difference from PyTorch.",
        epilog="examples:\n  tfsignal export mambattention-small -o enhancer.onnx\n"
        "  tfsignal export enhancer --streaming -o enhancer.onnx   # one STFT frame per call, states explicit\n"
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


def run(args) -> int:
    import json

    from tfsignal import models
    from tfsignal.export import check, check_streaming, read_spec, to_onnx, to_onnx_streaming

    if args.print_spec:
        try:
            print(json.dumps(read_spec(args.model), indent=2))
        except (FileNotFoundError, json.JSONDecodeError) as err:
            raise UserError(str(err)) from None
        return 0
    if not args.output:
        raise UserError("an output file is needed: -o model.onnx")
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise UserError(f"{output}: already exists (use --overwrite to replace it)")
    if args.model in models.available() and args.model not in models.pretrained():
        model = models.create(args.model).eval()
    else:
        model = load_model(args.model)
    if args.streaming:
        if not hasattr(model, "step_frame"):
            raise UserError(f"{args.model}: not a streaming model; export it without --streaming")
        to_onnx_streaming(model, output, overwrite=args.overwrite)
        diff = check_streaming(output, model)
    else:
        to_onnx(model, output, overwrite=args.overwrite)
        diff = check(output, model)
    print(f"{output}: max |onnxruntime - torch| = {diff:.2e}")
    if diff > args.tolerance:
        raise UserError(f"{output}: ONNX output differs from PyTorch by {diff:.2e} > {args.tolerance}")
    return 0
