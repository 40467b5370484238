"""Triton attention (forward and backward) for the short, narrow heads of time-frequency models.

The flash-attention scheme (Dao et al., 2022; FlashAttention-2, 2023) as in Triton's fused-attention
tutorial: each program holds a block of queries and streams the keys and values past it with an
online softmax in base 2, so the (length x length) scores never reach memory; the backward
recomputes them from the saved log-sum-exp. Shaped for the models here:

- head dims 4 to 128: loaded zero-padded to at least 16 inside the kernel (``tl.dot`` needs 16);
- any lengths: partial blocks are masked, causal masks align queries with the last q_len keys (as
  :func:`tfsignal.kernels.attention.attention_ref`), key-padding masks drop keys, and a query
  with no allowed key returns zeros (and zero gradients);
- any batch * heads: (batch, head, query block) are folded into the first grid axis, whose limit is
  2**31 - 1 (the second and third stop at 65535, which the frequency rows of a model exceed);
- float16, bfloat16 and float32 inputs, float32 accumulation; float32 products follow
  ``torch.backends.cuda.matmul.allow_tf32`` as PyTorch's own matmuls do.

Three kernels: the forward, dK and dV per block of keys, dQ per block of queries (no atomics); the
backward's row term rowsum(dO * O) is one PyTorch reduction. Tiles are 16 to 64 positions as the
lengths need, untuned until ``benchmarks/kernels.py`` has run on a GPU. TIGER's F3A, whose tokens
carry a whole axis (head dims in the hundreds), is beyond the head-dim limit and stays on SDPA.

The dispatcher imports this module on the first ``backend="triton"`` call, which needs the
``triton`` package (``pip install 'tfsignal[gpu]'``).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl
from torch import Tensor

from .triton_common import check_device, interpreted

_MAX_HEAD_DIM = 128


@triton.jit
def _locate(n_blocks, n_heads, BLOCK: tl.constexpr):
    """This program's (batch * heads) index, first position, batch and head: the grid's one axis
    runs over n_blocks blocks of every (batch, head) pair."""
    pid = tl.program_id(0)
    bh = pid // n_blocks
    return bh, (pid % n_blocks) * BLOCK, (bh // n_heads).to(tl.int64), (bh % n_heads).to(tl.int64)


@triton.jit
def _load_tile(base, positions, stride, length, offs_dim, dim):
    """(positions, offs_dim) tile of a (length, dim) matrix whose rows lie ``stride`` apart; zero outside."""
    mask = (positions[:, None] < length) & (offs_dim[None, :] < dim)
    return tl.load(base + positions[:, None] * stride + offs_dim[None, :], mask=mask, other=0.0)


@triton.jit
def _store_tile(base, positions, stride, length, offs_dim, dim, tile):
    mask = (positions[:, None] < length) & (offs_dim[None, :] < dim)
    tl.store(base + positions[:, None] * stride + offs_dim[None, :], tile.to(base.dtype.element_ty), mask=mask)


@triton.jit
def _allowed_block(rows, cols, q_len, k_len, pad_ptr, CAUSAL: tl.constexpr, HAS_PAD: tl.constexpr):
    """(BLOCK_M, BLOCK_N) booleans: query row may attend to key col (both indices in the sequence)."""
    ok = (rows[:, None] < q_len) & (cols[None, :] < k_len)
    if HAS_PAD:
        padded = tl.load(pad_ptr + cols, mask=cols < k_len, other=1)  # (BLOCK_N,)
        ok = ok & (padded == 0)[None, :]
    if CAUSAL:
        ok = ok & (cols[None, :] <= rows[:, None] + (k_len - q_len))
    return ok


@triton.jit
def _score_gradient(
    q, k, v, do, lse, delta, rows, cols, q_len, k_len, pad_ptr, qk_scale,
    CAUSAL: tl.constexpr, HAS_PAD: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    """The softmax weights P (M, N) recomputed from the saved log2-sum-exp2, and dS = P (dP - D),
    the gradient of the scores before the scale (D = rowsum(dO * O))."""
    scores = tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale  # (M, N), base 2
    allowed = _allowed_block(rows, cols, q_len, k_len, pad_ptr, CAUSAL, HAS_PAD)
    p = tl.where(allowed, tl.exp2(scores - lse[:, None]), 0.0)
    dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)  # (M, N)
    return p, p * (dp - delta[:, None])


@triton.jit
def _attention_forward(
    Q, K, V, PAD, O, LSE,
    sq_b, sq_h, sq_l, sk_b, sk_h, sk_l, sv_b, sv_h, sv_l, so_b, so_h, so_l,
    n_heads, q_len, k_len, head_dim, value_dim, qk_scale,
    CAUSAL: tl.constexpr, HAS_PAD: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_DV: tl.constexpr,
):  # fmt: skip
    """O (batch, heads, q_len, value_dim) and LSE (batch * heads, q_len) of one block of queries."""
    bh, start_m, batch, head = _locate(tl.cdiv(q_len, BLOCK_M), n_heads, BLOCK_M)
    rows = start_m + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    q = _load_tile(Q + batch * sq_b + head * sq_h, rows, sq_l, q_len, offs_d, head_dim)  # (M, D)
    k_base = K + batch * sk_b + head * sk_h
    v_base = V + batch * sv_b + head * sv_h
    pad_ptr = PAD + batch * k_len

    m_i = tl.full((BLOCK_M,), float("-inf"), tl.float32)  # running max of the base-2 scores
    l_i = tl.zeros((BLOCK_M,), tl.float32)  # running sum of exp2(score - m_i)
    acc = tl.zeros((BLOCK_M, BLOCK_DV), tl.float32)
    hi = k_len
    if CAUSAL:  # keys after the block's last query are masked for every row: skip them
        hi = tl.minimum(k_len, start_m + BLOCK_M + k_len - q_len)
    for start_n in range(0, hi, BLOCK_N):
        cols = start_n + offs_n
        k = _load_tile(k_base, cols, sk_l, k_len, offs_d, head_dim)  # (N, D)
        scores = tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale  # (M, N), base 2
        allowed = _allowed_block(rows, cols, q_len, k_len, pad_ptr, CAUSAL, HAS_PAD)
        scores = tl.where(allowed, scores, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(scores, 1))
        # a row with no allowed key so far keeps m = -inf; shift it by 0 so exp2 gives 0, not NaN
        m_shift = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.exp2(scores - m_shift[:, None])  # (M, N)
        alpha = tl.exp2(m_i - m_shift)  # rescales what was summed under the old max
        l_i = l_i * alpha + tl.sum(p, 1)
        v = _load_tile(v_base, cols, sv_l, k_len, offs_dv, value_dim)  # (N, DV)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
        m_i = m_new

    has_key = l_i > 0
    out = acc / tl.where(has_key, l_i, 1.0)[:, None]  # rows with no key: 0 / 1
    _store_tile(O + batch * so_b + head * so_h, rows, so_l, q_len, offs_dv, value_dim, out)
    # log2-sum-exp2 for the backward; +inf makes exp2(score - lse) = 0 on rows with no key
    lse = tl.where(has_key, m_i + tl.log2(tl.where(has_key, l_i, 1.0)), float("inf"))
    tl.store(LSE + bh.to(tl.int64) * q_len + rows, lse, mask=rows < q_len)


@triton.jit
def _attention_backward_kv(
    Q, K, V, PAD, DO, LSE, DELTA, DK, DV,
    sq_b, sq_h, sq_l, sk_b, sk_h, sk_l, sv_b, sv_h, sv_l, so_b, so_h, so_l,
    n_heads, q_len, k_len, head_dim, value_dim, qk_scale, sm_scale,
    CAUSAL: tl.constexpr, HAS_PAD: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_DV: tl.constexpr,
):  # fmt: skip
    """dK and dV of one block of keys, summed over every query block that sees it.

    dK, dV share K's and V's strides; DO shares O's; LSE and DELTA are (batch * heads, q_len)."""
    bh, start_n, batch, head = _locate(tl.cdiv(k_len, BLOCK_N), n_heads, BLOCK_N)
    offs_m = tl.arange(0, BLOCK_M)
    cols = start_n + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    k = _load_tile(K + batch * sk_b + head * sk_h, cols, sk_l, k_len, offs_d, head_dim)  # (N, D)
    v = _load_tile(V + batch * sv_b + head * sv_h, cols, sv_l, k_len, offs_dv, value_dim)  # (N, DV)
    q_base = Q + batch * sq_b + head * sq_h
    do_base = DO + batch * so_b + head * so_h
    row_base = bh.to(tl.int64) * q_len
    pad_ptr = PAD + batch * k_len

    dk = tl.zeros((BLOCK_N, BLOCK_D), tl.float32)
    dv = tl.zeros((BLOCK_N, BLOCK_DV), tl.float32)
    lo = 0
    if CAUSAL:  # queries before this block's first key see none of it
        lo = (tl.maximum(0, start_n - (k_len - q_len)) // BLOCK_M) * BLOCK_M
    for start_m in range(lo, q_len, BLOCK_M):
        rows = start_m + offs_m
        q = _load_tile(q_base, rows, sq_l, q_len, offs_d, head_dim)  # (M, D)
        do = _load_tile(do_base, rows, so_l, q_len, offs_dv, value_dim)  # (M, DV)
        lse = tl.load(LSE + row_base + rows, mask=rows < q_len, other=float("inf"))  # (M,)
        delta = tl.load(DELTA + row_base + rows, mask=rows < q_len, other=0.0)  # (M,)
        p, ds = _score_gradient(
            q, k, v, do, lse, delta, rows, cols, q_len, k_len, pad_ptr, qk_scale, CAUSAL, HAS_PAD, PRECISION
        )  # (M, N) each
        dv += tl.dot(tl.trans(p).to(do.dtype), do, input_precision=PRECISION)
        dk += tl.dot(tl.trans(ds).to(q.dtype), q, input_precision=PRECISION)
    _store_tile(DK + batch * sk_b + head * sk_h, cols, sk_l, k_len, offs_d, head_dim, dk * sm_scale)
    _store_tile(DV + batch * sv_b + head * sv_h, cols, sv_l, k_len, offs_dv, value_dim, dv)


@triton.jit
def _attention_backward_q(
    Q, K, V, PAD, DO, LSE, DELTA, DQ,
    sq_b, sq_h, sq_l, sk_b, sk_h, sk_l, sv_b, sv_h, sv_l, so_b, so_h, so_l,
    n_heads, q_len, k_len, head_dim, value_dim, qk_scale, sm_scale,
    CAUSAL: tl.constexpr, HAS_PAD: tl.constexpr, PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_DV: tl.constexpr,
):  # fmt: skip
    """dQ of one block of queries (DQ shares Q's strides)."""
    bh, start_m, batch, head = _locate(tl.cdiv(q_len, BLOCK_M), n_heads, BLOCK_M)
    rows = start_m + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    offs_dv = tl.arange(0, BLOCK_DV)
    q = _load_tile(Q + batch * sq_b + head * sq_h, rows, sq_l, q_len, offs_d, head_dim)  # (M, D)
    do = _load_tile(DO + batch * so_b + head * so_h, rows, so_l, q_len, offs_dv, value_dim)  # (M, DV)
    row_base = bh.to(tl.int64) * q_len
    lse = tl.load(LSE + row_base + rows, mask=rows < q_len, other=float("inf"))
    delta = tl.load(DELTA + row_base + rows, mask=rows < q_len, other=0.0)
    k_base = K + batch * sk_b + head * sk_h
    v_base = V + batch * sv_b + head * sv_h
    pad_ptr = PAD + batch * k_len

    dq = tl.zeros((BLOCK_M, BLOCK_D), tl.float32)
    hi = k_len
    if CAUSAL:
        hi = tl.minimum(k_len, start_m + BLOCK_M + k_len - q_len)
    for start_n in range(0, hi, BLOCK_N):
        cols = start_n + offs_n
        k = _load_tile(k_base, cols, sk_l, k_len, offs_d, head_dim)  # (N, D)
        v = _load_tile(v_base, cols, sv_l, k_len, offs_dv, value_dim)  # (N, DV)
        _, ds = _score_gradient(
            q, k, v, do, lse, delta, rows, cols, q_len, k_len, pad_ptr, qk_scale, CAUSAL, HAS_PAD, PRECISION
        )
        dq += tl.dot(ds.to(k.dtype), k, input_precision=PRECISION)
    _store_tile(DQ + batch * sq_b + head * sq_h, rows, sq_l, q_len, offs_d, head_dim, dq * sm_scale)


INTERPRETED = interpreted(_attention_forward)


def _blocks(q_len: int, k_len: int, head_dim: int, value_dim: int) -> dict:
    """Tile sizes: at least 16 everywhere (tl.dot), no larger than the sequence needs."""

    def fit(n: int, cap: int) -> int:
        return max(16, min(cap, triton.next_power_of_2(n)))

    return {
        "BLOCK_M": fit(q_len, 64),
        "BLOCK_N": fit(k_len, 64),
        "BLOCK_D": fit(head_dim, _MAX_HEAD_DIM),
        "BLOCK_DV": fit(value_dim, _MAX_HEAD_DIM),
    }


def _precision(dtype: torch.dtype) -> str:
    if dtype == torch.float32 and not torch.backends.cuda.matmul.allow_tf32:
        return "ieee"
    return "tf32"  # ignored by tl.dot for 16-bit inputs


def _strides(*tensors: Tensor) -> list[int]:
    """(batch, head, length) strides of each (batch, heads, length, dim) tensor, in order."""
    return [s for t in tensors for s in t.stride()[:3]]


def _dense(t: Tensor) -> Tensor:
    """t itself when the kernels can address it (unit last stride, no broadcast axis), else a copy."""
    return t if t.stride(-1) == 1 and 0 not in t.stride() else t.contiguous()


def _empty_as(t: Tensor) -> Tensor:
    return torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device=t.device)


class _TritonAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, key_padding_mask: Tensor | None, causal: bool) -> Tensor:
        q, k, v = _dense(q), _dense(k), _dense(v)
        batch, heads, q_len, head_dim = q.shape
        k_len, value_dim = k.shape[2], v.shape[3]
        has_pad = key_padding_mask is not None
        # (batch, k_len) int8, 1 where a key is padding; a one-element stand-in when there is no mask
        pad = key_padding_mask.to(torch.int8).contiguous() if has_pad else q.new_zeros(1, dtype=torch.int8)
        out = q.new_empty(batch, heads, q_len, value_dim)
        lse = q.new_empty(batch * heads, q_len, dtype=torch.float32)
        sm_scale = 1.0 / math.sqrt(head_dim)
        blocks = _blocks(q_len, k_len, head_dim, value_dim)
        grid = (batch * heads * triton.cdiv(q_len, blocks["BLOCK_M"]),)
        if q_len and k_len and batch * heads:
            _attention_forward[grid](
                q, k, v, pad, out, lse, *_strides(q, k, v, out),
                heads, q_len, k_len, head_dim, value_dim, sm_scale * math.log2(math.e),
                CAUSAL=causal, HAS_PAD=has_pad, PRECISION=_precision(q.dtype), **blocks,
            )  # fmt: skip
        else:
            out.zero_()
        ctx.save_for_backward(q, k, v, pad, out, lse)
        ctx.causal, ctx.has_pad, ctx.sm_scale, ctx.blocks = causal, has_pad, sm_scale, blocks
        return out

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        q, k, v, pad, out, lse = ctx.saved_tensors
        batch, heads, q_len, head_dim = q.shape
        k_len, value_dim = k.shape[2], v.shape[3]
        grad_out = grad_out.contiguous()  # shares out's (contiguous) strides
        # D_i = sum_j P_ij dP_ij = do_i . o_i, the softmax backward's row term, (batch * heads, q_len)
        delta = (grad_out.float() * out.float()).sum(-1).reshape(batch * heads, q_len)
        grad_q, grad_k, grad_v = _empty_as(q), _empty_as(k), _empty_as(v)
        if not (q_len and k_len and batch * heads):
            return grad_q.zero_(), grad_k.zero_(), grad_v.zero_(), None, None
        blocks = ctx.blocks
        common = dict(CAUSAL=ctx.causal, HAS_PAD=ctx.has_pad, PRECISION=_precision(q.dtype), **blocks)
        sizes = (heads, q_len, k_len, head_dim, value_dim, ctx.sm_scale * math.log2(math.e), ctx.sm_scale)
        # the gradients share q's, k's and v's strides
        strides = _strides(q, k, v, out)
        grid_kv = (batch * heads * triton.cdiv(k_len, blocks["BLOCK_N"]),)
        _attention_backward_kv[grid_kv](q, k, v, pad, grad_out, lse, delta, grad_k, grad_v, *strides, *sizes, **common)
        grid_q = (batch * heads * triton.cdiv(q_len, blocks["BLOCK_M"]),)
        _attention_backward_q[grid_q](q, k, v, pad, grad_out, lse, delta, grad_q, *strides, *sizes, **common)
        return grad_q, grad_k, grad_v, None, None


def attention_triton(
    q: Tensor, k: Tensor, v: Tensor, *, causal: bool = False, key_padding_mask: Tensor | None = None
) -> Tensor:
    """softmax(q k^T / sqrt(head_dim) + mask) v by the Triton kernels; differentiable in q, k, v.

    Shapes and masks as :func:`tfsignal.kernels.attention.attention` (inputs checked there).
    """
    check_device(q, INTERPRETED)
    if max(q.shape[-1], v.shape[-1]) > _MAX_HEAD_DIM:
        dims = f"{q.shape[-1]} (queries, keys), {v.shape[-1]} (values)"
        raise ValueError(f"the Triton attention takes head dims up to {_MAX_HEAD_DIM}, got {dims}")
    if q.dtype not in (torch.float16, torch.bfloat16, torch.float32) or not q.dtype == k.dtype == v.dtype:
        raise ValueError(f"the Triton attention takes float16, bfloat16 or float32 q, k, v of one dtype, got {q.dtype}")
    return _TritonAttention.apply(q, k, v, key_padding_mask, causal)
