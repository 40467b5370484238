"""Multi-head self-attention module; the product of queries and keys runs in tfsignal.kernels.attention."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from tfsignal.kernels import attention


class MultiHeadAttention(nn.Module):
    """Self-attention on (batch, length, dim) with a packed q/k/v projection.

    Parameters match ``torch.nn.MultiheadAttention(dim, heads)`` (in_proj with bias, out_proj with
    bias), so published parameter counts carry over.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, bias: bool = True, backend: str = "auto") -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.dropout = dropout
        self.backend = backend
        self.in_proj = nn.Linear(dim, 3 * dim, bias=bias)
        self.out_proj = nn.Linear(dim, dim, bias=bias)

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None, causal: bool = False) -> Tensor:
        batch, length, dim = x.shape
        qkv = self.in_proj(x).view(batch, length, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, L, dim / H)
        out = attention(q, k, v, causal=causal, key_padding_mask=key_padding_mask, backend=self.backend)
        out = out.transpose(1, 2).reshape(batch, length, dim)  # (B, L, dim)
        return F.dropout(self.out_proj(out), self.dropout, self.training)
