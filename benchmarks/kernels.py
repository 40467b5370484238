"""Triton kernels against PyTorch on a CUDA GPU, at the shapes the models really run.

    python benchmarks/kernels.py [--batch 4] [--seconds 2] [--dtype bfloat16] [--repeats 20]

Each model is run once on the GPU (forward, no gradients) with its attention and selective-scan
calls recorded; every distinct call shape is then timed:

- attention: ours (``backend="triton"``) against ``torch.nn.functional.scaled_dot_product_attention``
  (the ``"torch"`` path, masks built the same way) forced onto each of its backends in turn with
  ``torch.nn.attention.sdpa_kernel`` (flash, memory-efficient, math, cuDNN; "-" where a backend
  refuses the shape). Forward and forward + backward, in ``--dtype``; TFLOP/s count the products
  over allowed (query, key) pairs only, 4 flops per pair and head dim forward and 2.5x that backward;
  "err" is ours against the float32 reference.
- selective scan: ours against the PyTorch fast path (``backend="torch"``), float32 as the models
  run it, forward and forward + backward.

The streaming MambAttention's time path attends over a sliding window through SDPA with a banded
mask, which the Triton kernel does not take; its frequency path (full attention) is in the table.
Set the winning shapes in ``TRITON_FASTER`` of ``kernels/attention.py`` and ``kernels/scan.py``.
The script needs CUDA and triton and says so without them.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import sys
from datetime import datetime, timezone

import torch
from timing import median_seconds

import tfsignal.nn.attention as nn_attention
import tfsignal.nn.mamba as nn_mamba
from tfsignal.kernels import attention, attention_ref, selective_scan
from tfsignal.models import create

MODELS = ("mambattention", "mambattention-stream", "tiger-small", "mptsnet", "meg-gpt")


def model_inputs(model, batch: int, seconds: float) -> tuple:
    """The model's example inputs at ``seconds`` of signal (audio models) and ``batch`` rows."""
    parameters = inspect.signature(model.example_inputs).parameters
    if "batch" in parameters:
        return model.example_inputs(batch=batch)
    inputs = model.example_inputs(seconds=seconds) if "seconds" in parameters else model.example_inputs()
    return tuple(t.expand(batch, *t.shape[1:]).contiguous() for t in inputs)


def record_calls(name: str, batch: int, seconds: float) -> tuple[set, set]:
    """Run model ``name`` once on the GPU; return the distinct attention and scan call shapes.

    attention: (q shape, k_len, v head dim, causal, padded); scan: (u shape, d_state)."""
    import tfsignal.models.tiger as tiger  # the one model that calls the attention function directly

    attention_calls, scan_calls = set(), set()

    def recording_attention(q, k, v, *, causal=False, key_padding_mask=None, backend="auto"):
        attention_calls.add((tuple(q.shape), k.shape[2], v.shape[3], causal, key_padding_mask is not None))
        return attention(q, k, v, causal=causal, key_padding_mask=key_padding_mask, backend=backend)

    def recording_scan(u, delta, A, B, C, *args, **kwargs):
        scan_calls.add((tuple(u.shape), A.shape[1]))
        return selective_scan(u, delta, A, B, C, *args, **kwargs)

    patches = [(nn_attention, "attention", recording_attention), (tiger, "attention", recording_attention)]
    patches.append((nn_mamba, "selective_scan", recording_scan))
    saved = [(module, attr, getattr(module, attr)) for module, attr, _ in patches]
    for module, attr, stand_in in patches:
        setattr(module, attr, stand_in)
    try:
        model = create(name).cuda().eval()
        with torch.no_grad():
            model(*(t.cuda() for t in model_inputs(model, batch, seconds)))
    finally:
        for module, attr, original in saved:
            setattr(module, attr, original)
    return attention_calls, scan_calls


def cuda_seconds(fn, repeats: int) -> float:
    def synchronised():
        fn()
        torch.cuda.synchronize()

    return median_seconds(synchronised, repeats)


def allowed_pairs(q_len: int, k_len: int, causal: bool) -> int:
    if not causal:
        return q_len * k_len
    # query i sees keys 0 .. i + k_len - q_len (queries aligned with the last keys)
    return sum(max(0, min(k_len, i + 1 + k_len - q_len)) for i in range(q_len))


def sdpa_backends() -> list:
    from torch.nn.attention import SDPBackend

    names = ("FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH", "CUDNN_ATTENTION")
    return [getattr(SDPBackend, n) for n in names if hasattr(SDPBackend, n)]


def time_attention(call, dtype: torch.dtype, repeats: int) -> list[str]:
    from torch.nn.attention import sdpa_kernel

    (batch, heads, q_len, head_dim), k_len, value_dim, causal, padded = call
    g = torch.Generator(device="cuda").manual_seed(0)

    def randn(*shape):
        return torch.randn(*shape, generator=g, device="cuda", dtype=dtype, requires_grad=True)

    q = randn(batch, heads, q_len, head_dim)
    k = randn(batch, heads, k_len, head_dim)
    v = randn(batch, heads, k_len, value_dim)
    mask = torch.zeros(batch, k_len, dtype=torch.bool, device="cuda") if padded else None
    grad = torch.randn(batch, heads, q_len, value_dim, device="cuda", dtype=dtype)
    flops = 2 * batch * heads * allowed_pairs(q_len, k_len, causal) * (head_dim + value_dim)
    shape = f"{batch}x{heads}x{q_len}x{head_dim}, Lk {k_len}"
    flags = ("causal " if causal else "") + ("padded" if padded else "")
    want = attention_ref(q.float(), k.float(), v.float(), causal=causal, key_padding_mask=mask)

    def run(backend: str) -> torch.Tensor:
        return attention(q, k, v, causal=causal, key_padding_mask=mask, backend=backend)

    def train(backend: str) -> None:
        torch.autograd.grad(run(backend), (q, k, v), grad)

    rows = []
    candidates = [("triton", "triton", None)] + [("torch", f"sdpa {b.name.lower()}", b) for b in sdpa_backends()]
    for backend, label, sdpa in candidates:
        try:
            with sdpa_kernel([sdpa]) if sdpa is not None else contextlib.nullcontext():
                with torch.no_grad():
                    error = (run(backend).float() - want).abs().max().item()
                    forward = cuda_seconds(lambda: run(backend), repeats)
                both = cuda_seconds(lambda: train(backend), repeats)
        except (RuntimeError, ValueError):  # this backend does not take the shape, dtype or mask
            rows.append(f"| {shape} | {flags} | {label} | - | - | - | - | - |")
            continue
        rows.append(
            f"| {shape} | {flags} | {label} | {forward * 1e3:.3f} | {flops / forward / 1e12:.2f} | "
            f"{both * 1e3:.3f} | {3.5 * flops / both / 1e12:.2f} | {error:.1e} |"
        )
    return rows


def time_scan(call, repeats: int) -> list[str]:
    (batch, d_inner, length), d_state = call
    g = torch.Generator(device="cuda").manual_seed(0)

    def randn(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, device="cuda") * scale).requires_grad_()

    x = {
        "u": randn(batch, d_inner, length),
        "delta": randn(batch, d_inner, length, scale=0.5),
        "A": (-torch.exp(torch.randn(d_inner, d_state, generator=g, device="cuda"))).requires_grad_(),
        "B": randn(batch, d_state, length),
        "C": randn(batch, d_state, length),
        "D": randn(d_inner),
        "z": randn(batch, d_inner, length),
        "delta_bias": randn(d_inner),
    }
    grad = torch.randn(batch, d_inner, length, device="cuda")
    want = selective_scan(**x, backend="torch")

    def train(backend: str) -> None:
        torch.autograd.grad(selective_scan(**x, backend=backend), list(x.values()), grad)

    rows = []
    for backend in ("triton", "torch"):
        with torch.no_grad():
            error = (selective_scan(**x, backend=backend) - want).abs().max().item()
            forward = cuda_seconds(lambda: selective_scan(**x, backend=backend), repeats)
        both = cuda_seconds(lambda: train(backend), repeats)
        shape = f"{batch}x{d_inner}x{length}, N {d_state}"
        rows.append(f"| {shape} | {backend} | {forward * 1e3:.3f} | {both * 1e3:.3f} | {error:.1e} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=4, help="rows per model call (training batch)")
    parser.add_argument("--seconds", type=float, default=2.0, help="signal length of the audio models")
    parser.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], default="bfloat16")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit(
            "benchmarks/kernels.py needs a CUDA GPU and found none; the kernels' correctness is checked "
            "on the CPU by tests/test_triton_kernels.py (Triton's interpreter)"
        )
    try:
        import triton
    except ImportError:
        sys.exit("benchmarks/kernels.py needs triton: pip install 'tfsignal[gpu]'")

    dtype = getattr(torch, args.dtype)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, triton {triton.__version__}, ", end="")
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; batch {args.batch}, {args.seconds} s audio\n")
    print(f"Attention, {args.dtype} (times are medians of {args.repeats} calls):\n")
    print("| model | q (BxHxLxD), keys | mask | kernel | fwd ms | fwd TFLOP/s | fwd+bwd ms | fwd+bwd TFLOP/s | err |")
    print("|---|---|---|---|---|---|---|---|---|")
    scans = []
    for name in args.models:
        attention_calls, scan_calls = record_calls(name, args.batch, args.seconds)
        scans += [(name, call) for call in sorted(scan_calls)]
        for call in sorted(attention_calls):
            for row in time_attention(call, dtype, args.repeats):
                print(f"| {name} {row}", flush=True)
    print("\nSelective scan, float32:\n")
    print("| model | u (BxDxL), d_state | kernel | fwd ms | fwd+bwd ms | err vs torch |")
    print("|---|---|---|---|---|---|")
    for name, call in dict.fromkeys(scans):
        for row in time_scan(call, args.repeats):
            print(f"| {name} {row}", flush=True)


if __name__ == "__main__":
    main()
