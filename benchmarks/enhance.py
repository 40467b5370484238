"""Speech enhancement on CPU: parameters, MACs per second of audio, real-time factor and peak memory.

    python benchmarks/enhance.py                      # every named MambAttention/SEMamba config
    python benchmarks/enhance.py --long-minutes 1 5 10  # peak RSS of `enhance` on long files
    python benchmarks/enhance.py --configs --streaming --gtcrn GTCRN.onnx  # ONNX per hop vs GTCRN's ONNX
    python benchmarks/enhance.py --configs --train mambattention-stream  # training throughput, one process

Each configuration runs in its own process so its peak RSS is its own. RTF = processing seconds /
audio seconds through the same chunked path as the `enhance` command (--chunk-seconds, default 4),
after one warm-up call; below 1 is faster than real time. MACs are counted by
torch.utils.flop_counter on one second of audio (FLOPs / 2; matrix products and convolutions,
which is where the work is; element-wise ops and the scan recurrence are not counted).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CONFIGS = ["mambattention-stream", "mambattention-tiny", "mambattention-small", "semamba", "mambattention"]


def measure(name: str, seconds: float, chunk_seconds: float) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from tfsignal import models
    from tfsignal.chunking import chunked_apply

    model = models.create(name).eval()
    rate = model.sample_rate
    with torch.inference_mode():
        with FlopCounterMode(display=False) as counter:
            model(*model.example_inputs(1.0))
        x = torch.randn(1, int(seconds * rate)) * 0.1
        chunk = int(chunk_seconds * rate)
        chunked_apply(model.enhance, x[:, :chunk], chunk, chunk // 4)  # warm-up
        start = time.perf_counter()
        chunked_apply(model.enhance, x, chunk, chunk // 4)
        elapsed = time.perf_counter() - start
    return {
        "model": name,
        "params": sum(p.numel() for p in model.parameters()),
        "gmacs_per_second": counter.get_total_flops() / 2 / 1e9,
        "rtf": elapsed / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
    }


def long_file_memory(minutes: float, model: str) -> dict:
    """Peak RSS of the `enhance` command on a file of ``minutes`` of 16 kHz noise-like audio."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "long.wav"
        rng = np.random.default_rng(0)
        with sf.SoundFile(src, "w", 16000, 1, "PCM_16") as f:
            for _ in range(int(minutes * 60)):
                f.write((0.1 * rng.standard_normal(16000)).astype(np.float32))
        cmd = [sys.executable, "-m", "tfsignal.cli", "enhance", str(src), "-o", str(Path(tmp) / "out.wav")]
        if model:
            cmd += ["--model", model]
        # measured by a fresh runner, so that only this command's peak counts (RUSAGE_CHILDREN keeps
        # the largest child this process has ever waited for, the exporter's workers included)
        runner = "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        runner += "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", runner, *cmd], check=True, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    peak = int(out.stdout.split()[-1]) / 1024
    return {"minutes": minutes, "peak_rss_mb": peak, "rtf": elapsed / (60 * minutes)}


def streaming(model_names: list[str], seconds: float, gtcrn: str, rounds: int = 5) -> list[dict]:
    """Real-time factors of streaming enhancers as a device runs them (onnxruntime, one thread, one
    call per 16 ms hop, numpy FFTs around it) beside GTCRN's streaming ONNX run the same way, and
    each model in PyTorch offline (``enhance`` on the whole signal, torch's threads).

    The engines take turns over ``rounds`` rounds and each keeps its fastest round, so that a busy
    machine slows them alike and the ratios between rows hold."""
    import torch

    from tfsignal import models
    from tfsignal.baselines import gtcrn_enhancer
    from tfsignal.export import OnnxEnhancerStream, to_onnx_streaming

    def load(name: str):
        if name in models.available() and name not in models.pretrained():
            return models.create(name).eval()
        return models.load(name)

    loaded = [(name, load(name)) for name in model_names]
    rate = loaded[0][1].sample_rate
    x = (0.1 * np.random.default_rng(0).standard_normal(int(seconds * rate))).astype(np.float32)
    engines = {}  # row name -> a function that enhances x once
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, model) in enumerate(loaded):
            stream = OnnxEnhancerStream(to_onnx_streaming(model, Path(tmp) / f"stream{i}.onnx"), threads=1)

            def run_onnx(stream=stream):
                stream.process(x)
                stream.flush()

            engines[f"{name}, onnxruntime per hop, 1 thread"] = run_onnx
        if Path(gtcrn).is_file():
            enhance_fn = gtcrn_enhancer(gtcrn)
            engines["GTCRN, onnxruntime per hop, 1 thread"] = lambda: enhance_fn(x, rate)
        signal = torch.from_numpy(x)
        for name, model in loaded:

            def run_torch(model=model):
                with torch.inference_mode():
                    model.enhance(signal)

            engines[f"{name}, PyTorch offline, {torch.get_num_threads()} threads"] = run_torch
        best = dict.fromkeys(engines, float("inf"))
        for _ in range(rounds):
            for row, run in engines.items():
                start = time.perf_counter()
                run()
                best[row] = min(best[row], time.perf_counter() - start)
    return [{"engine": row, "rtf": elapsed / seconds} for row, elapsed in best.items()]


def training_throughput(name: str, batch: int, segment_seconds: float, steps: int = 5) -> dict:
    """Seconds of training mixtures per second of wall time for one process on torch's threads:
    the recipe's loss, backward and optimiser step on random (noisy, clean) batches, after a warm-up."""
    import torch

    from tfsignal import models
    from tfsignal.models.mambattention_stream import StreamingMambAttention
    from tfsignal.train import enhancement_loss
    from tfsignal.train.losses import mask_enhancement_loss

    model = models.create(name).train()
    loss_fn = mask_enhancement_loss if isinstance(model, StreamingMambAttention) else enhancement_loss
    optimizer = torch.optim.AdamW(model.parameters(), 1e-4)
    noisy = torch.randn(batch, int(segment_seconds * model.sample_rate)) * 0.05
    clean = noisy * 0.5
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad()
        loss_fn(model, noisy, clean)["total"].backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    per_step = float(np.median(times[1:]))
    return {
        "model": name,
        "batch": batch,
        "segment_s": segment_seconds,
        "s_per_step": per_step,
        "x_real_time": batch * segment_seconds / per_step,
        "threads": torch.get_num_threads(),
    }


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="*", default=CONFIGS)
    parser.add_argument("--seconds", type=float, default=12.0, help="audio length for the RTF")
    parser.add_argument("--chunk-seconds", type=float, default=4.0)
    parser.add_argument("--long-minutes", type=float, nargs="*", default=[], help="file lengths for the RSS test")
    parser.add_argument("--model", default="", help="model for --long-minutes (default: the shipped enhancer)")
    parser.add_argument("--streaming", action="store_true", help="streaming RTF table (ONNX per hop, GTCRN, offline)")
    parser.add_argument(
        "--stream-model", nargs="+", default=["enhancer-stream"], help="models for --streaming (names or paths)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="--streaming: rounds the engines take turns over")
    parser.add_argument("--gtcrn", default="", help="GTCRN's streaming ONNX file, the --streaming row to beat")
    parser.add_argument("--train", nargs="*", default=[], help="configs to time training steps of")
    parser.add_argument("--batch-size", type=int, default=8, help="mixtures per step for --train")
    parser.add_argument("--segment-seconds", type=float, default=2.0, help="mixture length for --train")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.seconds, args.chunk_seconds)))
        return
    if args.configs:
        print(f"{args.seconds:g} s of audio in {args.chunk_seconds:g} s chunks\n")
        print("| config | parameters | GMACs / s of audio | RTF (CPU) | peak RSS (MB) |")
        print("|---|---|---|---|---|")
        for name in args.configs:
            cmd = [sys.executable, __file__, "--one", name, "--seconds", str(args.seconds)]
            out = subprocess.run(cmd + ["--chunk-seconds", str(args.chunk_seconds)], capture_output=True, text=True)
            if out.returncode:
                print(f"| {name} | failed: {out.stderr.strip().splitlines()[-1]} | | | |")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"| {name} | {r['params']:,} | {r['gmacs_per_second']:.2f} | {r['rtf']:.2f} | {r['peak_rss_mb']:.0f} |"
            )
        print(f"\n{torch_threads()} torch threads")
    if args.streaming:
        print(f"\n{args.seconds:g} s of audio\n")
        print("| engine | RTF |")
        print("|---|---|")
        for row in streaming(args.stream_model, args.seconds, args.gtcrn, args.rounds):
            print(f"| {row['engine']} | {row['rtf']:.3f} |")
    if args.train:
        print("\n| config | batch x segment | s / step | seconds of audio per second (x real time) | threads |")
        print("|---|---|---|---|---|")
        for name in args.train:
            r = training_throughput(name, args.batch_size, args.segment_seconds)
            print(
                f"| {name} | {r['batch']} x {r['segment_s']:g} s | {r['s_per_step']:.2f} | "
                f"{r['x_real_time']:.1f} | {r['threads']} |"
            )
    if args.long_minutes:
        print("\n| file length (min) | peak RSS of `enhance` (MB) | RTF |")
        print("|---|---|---|")
        for minutes in args.long_minutes:
            r = long_file_memory(minutes, args.model)
            print(f"| {minutes:g} | {r['peak_rss_mb']:.0f} | {r['rtf']:.2f} |")


if __name__ == "__main__":
    main()
