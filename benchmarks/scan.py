"""Selective scan on CPU: the plain reference against the fast sequential path (and the export form).

    python benchmarks/scan.py [--repeats 3]

batch 16, d_inner 256, d_state 16 (the issue's shape; MambAttention's Mamba has d_inner 256),
float32, forward only at every length and forward + backward up to --max-train-length (the
reference's autograd graph over 1000 Python steps takes minutes). Times are medians; ratios come
from the same run.
"""

from __future__ import annotations

import argparse

import torch
from timing import median_seconds

from tfsignal.kernels import selective_scan


def inputs(length: int, batch: int = 16, d_inner: int = 256, d_state: int = 16, grad: bool = False):
    g = torch.Generator().manual_seed(0)
    tensors = dict(
        u=torch.randn(batch, d_inner, length, generator=g),
        delta=torch.randn(batch, d_inner, length, generator=g) * 0.5,
        A=-torch.exp(torch.randn(d_inner, d_state, generator=g)),
        B=torch.randn(batch, d_state, length, generator=g),
        C=torch.randn(batch, d_state, length, generator=g),
        D=torch.randn(d_inner, generator=g),
        z=torch.randn(batch, d_inner, length, generator=g),
        delta_bias=torch.randn(d_inner, generator=g),
    )
    for t in tensors.values():
        t.requires_grad_(grad)
    return tensors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lengths", type=int, nargs="+", default=[100, 200, 321, 1000])
    parser.add_argument("--max-train-length", type=int, default=321)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch 16, d_inner 256, d_state 16\n")
    print("| length | pass | reference (ms) | torch (ms) | chunked (ms) | reference / torch |")
    print("|---|---|---|---|---|---|")
    for length in args.lengths:
        x = inputs(length)
        with torch.no_grad():
            times = {
                b: median_seconds(lambda: selective_scan(**x, backend=b), args.repeats)
                for b in ("reference", "torch", "chunked")
            }
        print(
            f"| {length} | forward | {1e3 * times['reference']:.0f} | {1e3 * times['torch']:.0f} "
            f"| {1e3 * times['chunked']:.0f} | {times['reference'] / times['torch']:.1f}x |"
        )
        if length > args.max_train_length:
            continue
        x = inputs(length, grad=True)

        def train_step(backend):
            selective_scan(**x, backend=backend).sum().backward()

        times = {b: median_seconds(lambda: train_step(b), args.repeats) for b in ("reference", "torch", "chunked")}
        print(
            f"| {length} | forward + backward | {1e3 * times['reference']:.0f} | {1e3 * times['torch']:.0f} "
            f"| {1e3 * times['chunked']:.0f} | {times['reference'] / times['torch']:.1f}x |"
        )


if __name__ == "__main__":
    main()
