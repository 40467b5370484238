"""Multi-head attention core: PyTorch reference, SDPA path, dispatcher.

All backends take q, k, v of shape (batch, heads, length, head_dim) and return the same shape.
``key_padding_mask`` is (batch, key_length), True where a key is padding and must be ignored.

Backends of :func:`attention`:

- ``"reference"``: :func:`attention_ref`, softmax(q k^T / sqrt(d)) v written out, the yardstick.
- ``"torch"``: ``torch.nn.functional.scaled_dot_product_attention``, which picks a fused
  (flash / memory-efficient) kernel where PyTorch has one and exports to ONNX.
- ``"triton"``: our Triton kernels, forward and backward (:mod:`tfsignal.kernels.attention_triton`),
  for short sequences and head dims 4 to 128. They take CUDA tensors; on the CPU they run only in
  Triton's interpreter (``TRITON_INTERPRET=1`` set before the first call), which the tests use to
  check them against :func:`attention_ref`, and otherwise raise. Needs ``pip install 'tfsignal[gpu]'``.
- ``"auto"``: ``"triton"`` on CUDA for the shapes where ``benchmarks/kernels.py`` measured it
  faster than SDPA (:data:`TRITON_FASTER`), else ``"torch"``. No GPU has run that benchmark yet,
  so the table is empty and ``"auto"`` is ``"torch"`` everywhere.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from .triton_common import load

Backend = Literal["auto", "torch", "reference", "triton"]


def _check(q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None) -> None:
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(
            "q, k, v must be (batch, heads, length, head_dim); "
            f"got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if k.shape != v.shape[:-1] + k.shape[-1:] or q.shape[:2] != k.shape[:2] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"incompatible q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")
    if key_padding_mask is not None and tuple(key_padding_mask.shape) != (k.shape[0], k.shape[2]):
        raise ValueError(
            f"key_padding_mask must be (batch, key_length) = {(k.shape[0], k.shape[2])}, "
            f"got {tuple(key_padding_mask.shape)}"
        )


def _allowed(q: Tensor, k: Tensor, causal: bool, key_padding_mask: Tensor | None) -> Tensor | None:
    """Boolean mask broadcastable to (batch, heads, q_len, k_len), True where attention is allowed."""
    allowed = None
    if key_padding_mask is not None:
        allowed = ~key_padding_mask.bool()[:, None, None, :]  # (B, 1, 1, Lk)
    if causal:
        q_len, k_len = q.shape[2], k.shape[2]
        # Queries are aligned with the last q_len keys (as with a KV cache).
        past = torch.ones(q_len, k_len, dtype=torch.bool, device=q.device).tril(k_len - q_len)
        allowed = past if allowed is None else allowed & past
    return allowed


def attention_ref(
    q: Tensor, k: Tensor, v: Tensor, *, causal: bool = False, key_padding_mask: Tensor | None = None
) -> Tensor:
    """softmax(q k^T / sqrt(head_dim) + mask) v, computed in float32 or better.

    A query whose keys are all masked gets zeros (not NaN).
    """
    _check(q, k, v, key_padding_mask)
    work = torch.promote_types(q.dtype, torch.float32)
    scores = (q.to(work) @ k.to(work).transpose(-1, -2)) / math.sqrt(q.shape[-1])  # (B, H, Lq, Lk)
    allowed = _allowed(q, k, causal, key_padding_mask)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return (weights @ v.to(work)).to(q.dtype)


def _attention_sdpa(q: Tensor, k: Tensor, v: Tensor, causal: bool, key_padding_mask: Tensor | None) -> Tensor:
    if key_padding_mask is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal and q.shape[2] == k.shape[2])
    allowed = _allowed(q, k, causal, key_padding_mask)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    # SDPA returns NaN for a query with no allowed key; the reference returns zeros.
    return out.masked_fill(~allowed.any(-1, keepdim=True), 0.0)


# Where benchmarks/kernels.py measured our Triton kernel faster than every SDPA backend on a GPU:
# (head_dim, shortest, longest sequence), inclusive. Empty until that benchmark runs on a GPU.
TRITON_FASTER: tuple[tuple[int, int, int], ...] = ()


def _triton_faster(q: Tensor, k: Tensor) -> bool:
    if not q.is_cuda or importlib.util.find_spec("triton") is None:
        return False
    longest = max(q.shape[2], k.shape[2])
    return any(d == q.shape[-1] and lo <= longest <= hi for d, lo, hi in TRITON_FASTER)


def attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    causal: bool = False,
    key_padding_mask: Tensor | None = None,
    backend: Backend = "auto",
) -> Tensor:
    """Scaled dot-product attention on (batch, heads, length, head_dim) tensors."""
    if backend == "auto" and _triton_faster(q, k):
        backend = "triton"
    if backend == "triton":
        _check(q, k, v, key_padding_mask)
        return load("attention_triton").attention_triton(q, k, v, causal=causal, key_padding_mask=key_padding_mask)
    if backend == "reference":
        return attention_ref(q, k, v, causal=causal, key_padding_mask=key_padding_mask)
    if backend not in ("auto", "torch"):
        raise ValueError(f"unknown backend {backend!r}; expected 'auto', 'torch', 'reference' or 'triton'")
    _check(q, k, v, key_padding_mask)
    if causal and q.shape[2] != k.shape[2] and key_padding_mask is None:
        key_padding_mask = torch.zeros(k.shape[0], k.shape[2], dtype=torch.bool, device=k.device)
    return _attention_sdpa(q, k, v, causal, key_padding_mask)
