"""Multi-head self-attention module; the product of queries and keys runs in tfsignal.kernels.attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tfsignal.kernels import attention, exporting


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

    def _project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        batch, length, dim = x.shape
        qkv = self.in_proj(x).view(batch, length, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, L, dim / H)
        return q, k, v

    def window_cache(self, batch: int, window: int, device=None, dtype=torch.float32) -> tuple[Tensor, Tensor, Tensor]:
        """Empty cache for :meth:`windowed`: keys and values (B, H, window - 1, dim / H), all zero, and
        their additive score bias (B, 1, 1, window - 1), -inf while a slot holds no real position."""
        dim = self.in_proj.in_features
        shape = (batch, self.heads, window - 1, dim // self.heads)
        bias = torch.full((batch, 1, 1, window - 1), float("-inf"), device=device, dtype=dtype)
        return torch.zeros(shape, device=device, dtype=dtype), torch.zeros(shape, device=device, dtype=dtype), bias

    def windowed(
        self, x: Tensor, window: int, cache: tuple[Tensor, Tensor, Tensor] | None = None, query_block: int = 128
    ) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor] | None]:
        """Causal attention over a sliding window: position t sees positions t - window + 1 .. t.

        x (B, L, dim) -> (out (B, L, dim), new cache). Without ``cache`` the sequence starts at x[:, 0]
        (offline and training) and no cache is returned. With a cache from :meth:`window_cache` (or
        a previous call) x continues the sequence it holds, and the cache of the last window - 1
        positions comes back: feeding a sequence piece by piece gives the same output as feeding it
        whole. Every query sees at least itself, so no row is empty. Queries run in blocks of
        ``query_block`` against only the keys their window reaches, so the cost grows linearly in L;
        while exporting, in one block with a banded mask, so that the graph holds no length.
        """
        batch, length, dim = x.shape
        q, k, v = self._project(x)  # each (B, H, L, d)
        past = 0 if cache is None else window - 1
        slot_bias = None
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)  # (B, H, past + L, d): key j is position j - past
            v = torch.cat([cache[1], v], dim=2)
            slot_bias = torch.cat([cache[2], x.new_zeros(batch, 1, 1, length)], dim=-1)  # (B, 1, 1, past + L)
        pieces = []
        if exporting():
            blocks = [(0, length)]
        else:
            blocks = [(start, min(start + query_block, length)) for start in range(0, length, max(query_block, 1))]
        for start, stop in blocks:
            lo, hi = max(0, start + past - window + 1), stop + past  # the keys these queries can reach
            query_pos = torch.arange(start + past, stop + past, device=x.device)[:, None]  # (Lq, 1)
            key_pos = torch.arange(lo, hi, device=x.device)[None, :]  # (1, Lk)
            allowed = (key_pos <= query_pos) & (key_pos > query_pos - window)
            mask = x.new_zeros(allowed.shape).masked_fill(~allowed, float("-inf"))  # (Lq, Lk)
            if slot_bias is not None:
                mask = mask + slot_bias[..., lo:hi]  # (B, 1, Lq, Lk)
            pieces.append(F.scaled_dot_product_attention(q[:, :, start:stop], k[:, :, lo:hi], v[:, :, lo:hi], mask))
        out = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=2)  # (B, H, L, d)
        out = out.transpose(1, 2).reshape(batch, length, dim)
        new_cache = None
        if cache is not None:
            new_cache = (k[:, :, -past:], v[:, :, -past:], slot_bias[..., -past:])
        return F.dropout(self.out_proj(out), self.dropout, self.training), new_cache
