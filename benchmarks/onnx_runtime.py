"""ONNX export and inference on CPU: export time, file size, and PyTorch eager against onnxruntime
fp32 and int8 (dynamic quantization) on one and two threads, for every shipped model and the
smallest configuration of the others.

    python benchmarks/onnx_runtime.py                          # the default list below, one process each
    python benchmarks/onnx_runtime.py --models enhancer tfm    # any shipped name or configuration name

Speed is the median of --repeats calls on ``example_inputs()`` after one warm-up call: the real-time
factor (seconds of compute per second of signal, below 1 is faster than real time) for models that
declare a sample rate, items per second otherwise. ``int8 diff`` is the largest difference between
the int8 graph and PyTorch on the same inputs (for token outputs: the share of tokens that change).
Machines are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import median_seconds

MODELS = ["enhancer", "enhancer-stream", "tspulse", "tfm", "tfm-fast", "sample", "meg-gpt-tiny", "mptsnet-cpu",
          "tiger-tiny"]  # fmt: skip


def measure(name: str, repeats: int) -> dict:
    """One model's row (run in a child process so that thread settings and memory are its own)."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from tfsignal.cli.export import exportable
    from tfsignal.export import export_spec, to_onnx

    torch.manual_seed(0)
    model = exportable(name)
    args = model.example_inputs()
    io = model.onnx_io()
    rate = io.get("sample_rate")
    spec = export_spec(model, "x.onnx", args)
    axes = {symbol: axis for axis, symbol in io["inputs"][0]["axes"].items()}
    if rate and "samples" in axes:  # seconds of signal per call, or items
        per_call = args[0].shape[axes["samples"]] / rate
    elif rate and "frames" in axes:
        per_call = args[0].shape[axes["frames"]] * io["hop_length"] / rate
    else:
        rate, per_call = None, args[0].shape[0]
    row = {"model": name, "params": sum(p.numel() for p in model.parameters())}
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        start = time.perf_counter()
        to_onnx(model, fp32)
        row["export_s"] = round(time.perf_counter() - start, 1)
        row["fp32_mb"] = round(fp32.stat().st_size / 2**20, 2)
        try:
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
            row["int8_mb"] = round(int8.stat().st_size / 2**20, 2)
        except ValueError as err:  # onnxruntime's quantiser refuses some graphs
            row["int8_error"], row["int8_mb"] = str(err).splitlines()[0][:60], None
        feeds = {i["name"]: a.numpy() for i, a in zip(spec["inputs"], args)}
        method = getattr(model, io.get("method", "forward"))
        with torch.no_grad():
            want = method(*args)
        want = (want if isinstance(want, torch.Tensor) else want[0]).numpy()
        unit = "rtf" if rate else "items_per_s"

        def speed(seconds: float) -> float:
            return round(seconds / per_call, 4) if rate else round(per_call / seconds, 1)

        for threads in (1, 2):
            torch.set_num_threads(threads)
            with torch.no_grad():
                row[f"torch_{threads}t_{unit}"] = speed(median_seconds(lambda: method(*args), repeats))
            for label, path in (("ort", fp32), ("int8", int8)) if row["int8_mb"] else (("ort", fp32),):
                options = ort.SessionOptions()
                options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
                session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                row[f"{label}_{threads}t_{unit}"] = speed(median_seconds(lambda: session.run(None, feeds), repeats))
                if label == "int8" and threads == 1:
                    got = session.run(None, feeds)[0]
                    integer = np.issubdtype(want.dtype, np.integer)
                    row["int8_diff"] = float((got != want).mean() if integer else np.abs(got - want).max())
    return row


def table(rows: list[dict]) -> str:
    unit = lambda row: "rtf" if any(k.endswith("_rtf") for k in row) else "items_per_s"  # noqa: E731
    lines = [
        "| model | params | export (s) | fp32 / int8 (MB) | torch 1t | ort 1t | int8 1t | torch 2t | ort 2t | int8 2t "
        "| int8 diff |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['model']} | error: {row['error']} |" + " |" * 9)
            continue
        u = unit(row)
        speeds = [row.get(f"{engine}_{t}t_{u}", "n/a") for t in (1, 2) for engine in ("torch", "ort", "int8")]
        name = f"{row['model']} ({'RTF' if u == 'rtf' else 'items/s'})"
        lines.append(
            f"| {name} | {row['params']:,} | {row['export_s']} | {row['fp32_mb']} / {row['int8_mb']} | "
            + " | ".join(str(s) for s in speeds)
            + (f" | {row['int8_diff']:.2g} |" if "int8_diff" in row else f" | quantiser: {row['int8_error']} |")
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.repeats)))
        return
    rows = []
    for name in args.models:
        done = subprocess.run(
            [sys.executable, __file__, "--child", name, "--repeats", str(args.repeats)], capture_output=True, text=True
        )
        lines = done.stdout.strip().splitlines()
        if done.returncode or not lines:
            rows.append({"model": name, "error": (done.stderr.strip().splitlines() or ["failed"])[-1][:80]})
        else:
            rows.append(json.loads(lines[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    import platform

    import torch

    print(f"{platform.machine()}, {torch.get_num_threads()} threads available, torch {torch.__version__}, "
          f"{time.strftime('%Y-%m-%d')}\n")  # fmt: skip
    print(table(rows))


if __name__ == "__main__":
    main()
