"""Speech separation on CPU: real-time factor and peak memory against input length, whole vs chunked.

    python benchmarks/separate.py                                   # tiger-small, 1 to 60 s
    python benchmarks/separate.py --config tiger-tiny --seconds 1 2 --chunk-seconds 1

Each (length, mode) runs in its own process so that its peak RSS is its own. "whole" gives the
model the entire input in one call; "chunked" goes through tfsignal.separation.separate with
--chunk-seconds / --overlap-seconds (the `tfsignal separate` path, sources aligned across chunks).
RTF = processing seconds / audio seconds after a one-second warm-up call; below 1 is faster than
real time. Peak RSS is the process's high-water mark; "growth" is that minus the resident size
just before the timed call (model and warm-up included in the baseline).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

LENGTHS = [1.0, 5.0, 10.0, 30.0, 60.0]


def resident_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(config: str, seconds: float, mode: str, chunk_seconds: float, overlap_seconds: float) -> dict:
    import numpy as np
    import torch

    from tfsignal import models
    from tfsignal.separation import separate

    model = models.create(config).eval()
    rate = model.sample_rate
    x = (0.1 * np.random.default_rng(0).standard_normal(int(seconds * rate))).astype(np.float32)
    if mode == "whole":
        chunk_seconds = 2 * seconds + 1  # longer than the input: one call
        overlap_seconds = 1.0
    separate(model, x[:rate], rate, chunk_seconds, overlap_seconds)  # warm-up
    before = resident_mb()
    start = time.perf_counter()
    separate(model, x, rate, chunk_seconds, overlap_seconds)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "mode": mode,
        "rtf": elapsed / seconds,
        "peak_rss_mb": peak,
        "growth_mb": peak - before,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="tiger-small", help="registered model name (default: tiger-small)")
    parser.add_argument("--seconds", type=float, nargs="+", default=LENGTHS, help="input lengths")
    parser.add_argument("--modes", nargs="+", choices=["whole", "chunked"], default=["whole", "chunked"])
    parser.add_argument("--chunk-seconds", type=float, default=8.0)
    parser.add_argument("--overlap-seconds", type=float, default=2.0)
    parser.add_argument("--one", nargs=2, metavar=("SECONDS", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        seconds, mode = float(args.one[0]), args.one[1]
        print(json.dumps(measure(args.config, seconds, mode, args.chunk_seconds, args.overlap_seconds)))
        return
    print(f"{args.config}; chunked: {args.chunk_seconds:g} s chunks overlapping by {args.overlap_seconds:g} s\n")
    print("| input (s) | mode | RTF (CPU) | peak RSS (MB) | growth (MB) |")
    print("|---|---|---|---|---|")
    threads = None
    for seconds in args.seconds:
        for mode in args.modes:
            cmd = [sys.executable, __file__, "--config", args.config, "--one", str(seconds), mode]
            cmd += ["--chunk-seconds", str(args.chunk_seconds), "--overlap-seconds", str(args.overlap_seconds)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                lines = (out.stderr.strip() or f"exit code {out.returncode}").splitlines()
                print(f"| {seconds:g} | {mode} | failed: {lines[-1]} | | |")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            threads = r["threads"]
            print(f"| {seconds:g} | {mode} | {r['rtf']:.2f} | {r['peak_rss_mb']:.0f} | {r['growth_mb']:.0f} |")
    if threads is not None:
        print(f"\n{threads} torch threads")


if __name__ == "__main__":
    main()
