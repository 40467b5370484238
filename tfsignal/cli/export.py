"""``tfsignal export MODEL -o model.onnx``: ONNX export checked against PyTorch."""

from __future__ import annotations

from pathlib import Path

from .common import UserError, load_model


def add_parser(sub, name: str) -> None:
    parser = sub.add_parser(
        name,
        help="export a model to ONNX",
        description="Export a shipped model, a saved model folder or a named configuration to ONNX, "
        "then run it in onnxruntime and report the largest difference from PyTorch.",
        epilog="example: tfsignal export mambattention-small -o enhancer.onnx",
    )
    parser.add_argument("model", help="shipped name, folder or .json path, or a configuration name")
    parser.add_argument("-o", "--output", required=True, help="ONNX file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1e-3,
        help="fail when onnxruntime and PyTorch differ by more (default 1e-3)",
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    from tfsignal import models
    from tfsignal.export import check, to_onnx

    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise UserError(f"{output}: already exists (use --overwrite to replace it)")
    if args.model in models.available() and args.model not in models.pretrained():
        model = models.create(args.model).eval()
    else:
        model = load_model(args.model)
    to_onnx(model, output, overwrite=args.overwrite)
    diff = check(output, model)
    print(f"{output}: max |onnxruntime - torch| = {diff:.2e}")
    if diff > args.tolerance:
        raise UserError(f"{output}: ONNX output differs from PyTorch by {diff:.2e} > {args.tolerance}")
    return 0
