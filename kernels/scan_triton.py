"""Triton selective scan (forward, backward, one streaming step) in mamba_ssm's layout.

Each program owns one batch row and a block of channels, all of their states: the state
(BLOCK_D, BLOCK_N) stays in registers while time advances in chunks of BLOCK_L steps. Inside a
chunk the recurrence h_t = exp(delta_t A) h_{t-1} + delta_t u_t B_t is a first-order linear scan,
solved by ``tl.associative_scan`` over (decay, drive) pairs; the state entering the chunk is then
added in, decayed to every step. The forward keeps the state entering each chunk so that the
backward can recompute a chunk's states and run the adjoint recurrence
lam_t = C_t g_t + exp(delta_{t+1} A) lam_{t+1} backwards with the same scan (``reverse=True``).

The core takes delta already discretised and leaves out the D skip and the gate, like the other
backends of :mod:`tfsignal.kernels.scan` (their shared wrapper adds them). Gradients that sum over
programs (dB and dC over channel blocks, dA over the batch) are written per program and added up
by PyTorch, so the backward is deterministic. Tile sizes are untuned until ``benchmarks/kernels.py``
has run on a GPU. The streaming step does everything in one kernel: delta bias and softplus, state
update, readout, skip and gate.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from .triton_common import check_device, interpreted

_STEP_BLOCK_D = 32
_TILE_ELEMENTS = 2048  # BLOCK_D * BLOCK_N * BLOCK_L: a few such tiles live in registers at once


@triton.jit
def _linear_step(decay_1, drive_1, decay_2, drive_2):
    """Compose h -> decay_1 h + drive_1, then h -> decay_2 h + drive_2."""
    return decay_1 * decay_2, decay_2 * drive_1 + drive_2


@triton.jit
def _chunk_states(delta, u, B_chunk, A_tile, h_start):
    """The states (BD, BN, BL) of one chunk from the state entering it (BD, BN), and the drive
    delta_t u_t B_t; delta, u (BD, BL), B_chunk (BN, BL), A_tile (BD, BN)."""
    decay = tl.exp(delta[:, None, :] * A_tile[:, :, None])  # (BD, BN, BL)
    drive = (delta * u)[:, None, :] * B_chunk[None, :, :]  # (BD, BN, BL)
    # (product of decays since the chunk start, state from a zero start) at every step
    carried, local = tl.associative_scan((decay, drive), 2, _linear_step)
    return local + carried * h_start[:, :, None], drive


@triton.jit
def _scan_forward(
    U, DELTA, A, B, C, Y, STARTS,
    d_inner, d_state, length, n_d_blocks,
    SAVE_STARTS: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
):  # fmt: skip
    """u, delta, y (batch, d_inner, length); A (d_inner, d_state); B, C (batch, d_state, length);
    STARTS (batch, chunks, d_inner, d_state) receives the state entering every chunk. All contiguous."""
    pid = tl.program_id(0)
    batch = (pid // n_d_blocks).to(tl.int64)
    offs_d = (pid % n_d_blocks) * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    offs_l = tl.arange(0, BLOCK_L)
    d_ok = offs_d < d_inner
    n_ok = offs_n < d_state
    state_mask = d_ok[:, None] & n_ok[None, :]
    A_tile = tl.load(A + offs_d[:, None] * d_state + offs_n[None, :], mask=state_mask, other=0.0)  # (BD, BN)
    seq_base = batch * d_inner * length
    bc_base = batch * d_state * length
    n_chunks = tl.cdiv(length, BLOCK_L)
    h = tl.zeros((BLOCK_D, BLOCK_N), A.dtype.element_ty)
    for chunk in range(0, n_chunks):
        if SAVE_STARTS:
            start_ptrs = STARTS + ((batch * n_chunks + chunk) * d_inner + offs_d[:, None]) * d_state + offs_n[None, :]
            tl.store(start_ptrs, h, mask=state_mask)
        t = chunk * BLOCK_L + offs_l
        seq_mask = d_ok[:, None] & (t[None, :] < length)
        bc_mask = n_ok[:, None] & (t[None, :] < length)
        # steps past the end read delta = 0: decay 1 and no input, so the state passes through them
        delta = tl.load(DELTA + seq_base + offs_d[:, None] * length + t[None, :], mask=seq_mask, other=0.0)  # (BD, BL)
        u = tl.load(U + seq_base + offs_d[:, None] * length + t[None, :], mask=seq_mask, other=0.0)  # (BD, BL)
        B_chunk = tl.load(B + bc_base + offs_n[:, None] * length + t[None, :], mask=bc_mask, other=0.0)  # (BN, BL)
        C_chunk = tl.load(C + bc_base + offs_n[:, None] * length + t[None, :], mask=bc_mask, other=0.0)  # (BN, BL)
        states, _ = _chunk_states(delta, u, B_chunk, A_tile, h)  # (BD, BN, BL)
        y = tl.sum(states * C_chunk[None, :, :], 1)  # (BD, BL)
        tl.store(Y + seq_base + offs_d[:, None] * length + t[None, :], y, mask=seq_mask)
        h = tl.sum(tl.where(offs_l[None, None, :] == BLOCK_L - 1, states, 0.0), 2)  # last step's state


@triton.jit
def _scan_backward(
    U, DELTA, A, B, C, GRAD_Y, STARTS, GRAD_U, GRAD_DELTA, GRAD_A_PART, GRAD_B_PART, GRAD_C_PART,
    d_inner, d_state, length, n_d_blocks,
    BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
):  # fmt: skip
    """Chunks from the last to the first. With lam_t = dL/dh_t and w_t = lam_t exp(delta_t A) h_{t-1}
    = lam_t (h_t - delta_t u_t B_t), the part of lam_t that reaches the decay:
        du_t = delta_t sum_n lam_t B_t      ddelta_t = u_t sum_n lam_t B_t + sum_n w_t A
        dB_t = sum_d lam_t delta_t u_t      dC_t = sum_d g_t h_t      dA = sum_t w_t delta_t
    The sums over d and over the batch span programs: each writes its part, (batch, n_d_blocks,
    d_state, length) for dB and dC, (batch, d_inner, d_state) for dA, and the caller adds them."""
    pid = tl.program_id(0)
    batch = (pid // n_d_blocks).to(tl.int64)
    d_block = pid % n_d_blocks
    offs_d = d_block * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    offs_l = tl.arange(0, BLOCK_L)
    d_ok = offs_d < d_inner
    n_ok = offs_n < d_state
    state_mask = d_ok[:, None] & n_ok[None, :]
    A_tile = tl.load(A + offs_d[:, None] * d_state + offs_n[None, :], mask=state_mask, other=0.0)  # (BD, BN)
    seq_base = batch * d_inner * length
    bc_base = batch * d_state * length
    part_base = (batch * n_d_blocks + d_block) * d_state * length
    n_chunks = tl.cdiv(length, BLOCK_L)
    lam_after = tl.zeros((BLOCK_D, BLOCK_N), A.dtype.element_ty)  # lam at the first step of the chunk after
    grad_A = tl.zeros((BLOCK_D, BLOCK_N), A.dtype.element_ty)
    for step in range(0, n_chunks):
        chunk = n_chunks - 1 - step
        t = chunk * BLOCK_L + offs_l
        seq_mask = d_ok[:, None] & (t[None, :] < length)
        next_mask = d_ok[:, None] & (t[None, :] + 1 < length)
        bc_mask = n_ok[:, None] & (t[None, :] < length)
        seq_ptrs = seq_base + offs_d[:, None] * length + t[None, :]
        bc_ptrs = bc_base + offs_n[:, None] * length + t[None, :]
        delta = tl.load(DELTA + seq_ptrs, mask=seq_mask, other=0.0)  # (BD, BL)
        delta_next = tl.load(DELTA + seq_ptrs + 1, mask=next_mask, other=0.0)  # delta_{t+1}, (BD, BL)
        u = tl.load(U + seq_ptrs, mask=seq_mask, other=0.0)
        g = tl.load(GRAD_Y + seq_ptrs, mask=seq_mask, other=0.0)
        B_chunk = tl.load(B + bc_ptrs, mask=bc_mask, other=0.0)  # (BN, BL)
        C_chunk = tl.load(C + bc_ptrs, mask=bc_mask, other=0.0)
        start_ptrs = STARTS + ((batch * n_chunks + chunk) * d_inner + offs_d[:, None]) * d_state + offs_n[None, :]
        h_start = tl.load(start_ptrs, mask=state_mask, other=0.0)  # (BD, BN)

        states, drive = _chunk_states(delta, u, B_chunk, A_tile, h_start)  # as in the forward, (BD, BN, BL)
        # the adjoint, from the chunk's end backwards: lam_t = exp(delta_{t+1} A) lam_{t+1} + C_t g_t
        decay_next = tl.exp(delta_next[:, None, :] * A_tile[:, :, None])
        lam_carried, lam_local = tl.associative_scan(
            (decay_next, C_chunk[None, :, :] * g[:, None, :]), 2, _linear_step, reverse=True
        )
        lam = lam_local + lam_carried * lam_after[:, :, None]  # (BD, BN, BL)
        lam_after = tl.sum(tl.where(offs_l[None, None, :] == 0, lam, 0.0), 2)

        lam_B = tl.sum(lam * B_chunk[None, :, :], 1)  # (BD, BL)
        w = lam * (states - drive)
        tl.store(GRAD_U + seq_ptrs, delta * lam_B, mask=seq_mask)
        tl.store(GRAD_DELTA + seq_ptrs, u * lam_B + tl.sum(w * A_tile[:, :, None], 1), mask=seq_mask)
        part_ptrs = part_base + offs_n[:, None] * length + t[None, :]
        tl.store(GRAD_B_PART + part_ptrs, tl.sum(lam * (delta * u)[:, None, :], 0), mask=bc_mask)
        tl.store(GRAD_C_PART + part_ptrs, tl.sum(g[:, None, :] * states, 0), mask=bc_mask)
        grad_A += tl.sum(w * delta[:, None, :], 2)
    a_ptrs = GRAD_A_PART + (batch * d_inner + offs_d[:, None]) * d_state + offs_n[None, :]
    tl.store(a_ptrs, grad_A, mask=state_mask)


INTERPRETED = interpreted(_scan_forward)


def _scan_blocks(d_inner: int, d_state: int) -> dict:
    block_n = triton.next_power_of_2(d_state)
    block_l = 16
    block_d = max(1, min(triton.next_power_of_2(d_inner), _TILE_ELEMENTS // (block_n * block_l)))
    return {"BLOCK_D": block_d, "BLOCK_N": block_n, "BLOCK_L": block_l}


class _TritonScan(torch.autograd.Function):
    """y = scan(u, delta, A, B, C), delta discretised; no D skip, no gate."""

    @staticmethod
    def forward(ctx, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor) -> Tensor:
        u, delta, A, B, C = (t.contiguous() for t in (u, delta, A, B, C))
        batch, d_inner, length = u.shape
        d_state = A.shape[1]
        blocks = _scan_blocks(d_inner, d_state)
        n_d_blocks = triton.cdiv(d_inner, blocks["BLOCK_D"])
        n_chunks = triton.cdiv(length, blocks["BLOCK_L"])
        save = any(ctx.needs_input_grad)
        y = torch.empty_like(u)
        starts = u.new_empty(batch, n_chunks, d_inner, d_state) if save else u.new_empty(1)
        if batch and d_inner and length:
            grid = (batch * n_d_blocks,)
            _scan_forward[grid](u, delta, A, B, C, y, starts, d_inner, d_state, length, n_d_blocks, save, **blocks)
        else:
            y.zero_()
        ctx.save_for_backward(u, delta, A, B, C, starts)
        ctx.blocks = blocks
        return y

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        u, delta, A, B, C, starts = ctx.saved_tensors
        batch, d_inner, length = u.shape
        d_state = A.shape[1]
        blocks = ctx.blocks
        n_d_blocks = triton.cdiv(d_inner, blocks["BLOCK_D"])
        grad_u, grad_delta = torch.zeros_like(u), torch.zeros_like(delta)
        grad_A_part = u.new_zeros(batch, d_inner, d_state)
        grad_B_part = u.new_zeros(batch, n_d_blocks, d_state, length)
        grad_C_part = u.new_zeros(batch, n_d_blocks, d_state, length)
        if batch and d_inner and length:
            _scan_backward[(batch * n_d_blocks,)](
                u, delta, A, B, C, grad_y.contiguous(), starts,
                grad_u, grad_delta, grad_A_part, grad_B_part, grad_C_part,
                d_inner, d_state, length, n_d_blocks, **blocks,
            )  # fmt: skip
        return grad_u, grad_delta, grad_A_part.sum(0), grad_B_part.sum(1), grad_C_part.sum(1)


def scan_triton(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor) -> Tensor:
    """Core scan for :func:`tfsignal.kernels.scan.selective_scan`'s shared wrapper (delta discretised)."""
    check_device(u, INTERPRETED)
    return _TritonScan.apply(u, delta, A, B, C)


@triton.jit
def _scan_step(
    STATE, U, DELTA, A, B, C, D, Z, DELTA_BIAS, Y, NEW_STATE,
    d_inner, d_state, n_d_blocks,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
):  # fmt: skip
    """state, new_state (batch, d_inner, d_state); u, delta, z, y (batch, d_inner); A (d_inner,
    d_state); B, C (batch, d_state); D, delta_bias (d_inner). All contiguous."""
    pid = tl.program_id(0)
    batch = (pid // n_d_blocks).to(tl.int64)
    offs_d = (pid % n_d_blocks) * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    d_ok = offs_d < d_inner
    n_ok = offs_n < d_state
    state_mask = d_ok[:, None] & n_ok[None, :]
    row = batch * d_inner + offs_d  # (BD,)
    delta = tl.load(DELTA + row, mask=d_ok, other=0.0).to(tl.float32)
    if HAS_BIAS:
        delta += tl.load(DELTA_BIAS + offs_d, mask=d_ok, other=0.0).to(tl.float32)
    if SOFTPLUS:  # as torch.nn.functional.softplus: linear above 20 (0 below about -17, not exp(delta))
        delta = tl.where(delta > 20.0, delta, tl.log(1.0 + tl.exp(tl.minimum(delta, 20.0))))
    u = tl.load(U + row, mask=d_ok, other=0.0).to(tl.float32)
    A_tile = tl.load(A + offs_d[:, None] * d_state + offs_n[None, :], mask=state_mask, other=0.0).to(tl.float32)
    B_t = tl.load(B + batch * d_state + offs_n, mask=n_ok, other=0.0).to(tl.float32)  # (BN,)
    C_t = tl.load(C + batch * d_state + offs_n, mask=n_ok, other=0.0).to(tl.float32)
    state_ptrs = row[:, None] * d_state + offs_n[None, :]
    state = tl.load(STATE + state_ptrs, mask=state_mask, other=0.0).to(tl.float32)  # (BD, BN)
    state = tl.exp(delta[:, None] * A_tile) * state + (delta * u)[:, None] * B_t[None, :]
    y = tl.sum(state * C_t[None, :], 1)  # (BD,)
    if HAS_D:
        y += tl.load(D + offs_d, mask=d_ok, other=0.0).to(tl.float32) * u
    if HAS_Z:
        z = tl.load(Z + row, mask=d_ok, other=0.0).to(tl.float32)
        y = y * z * tl.sigmoid(z)
    tl.store(NEW_STATE + state_ptrs, state.to(NEW_STATE.dtype.element_ty), mask=state_mask)
    tl.store(Y + row, y.to(Y.dtype.element_ty), mask=d_ok)


def scan_step_triton(
    state: Tensor,
    u_t: Tensor,
    delta_t: Tensor,
    A: Tensor,
    B_t: Tensor,
    C_t: Tensor,
    D: Tensor | None,
    z_t: Tensor | None,
    delta_bias: Tensor | None,
    delta_softplus: bool,
) -> tuple[Tensor, Tensor]:
    """One streaming step, shapes checked by :func:`tfsignal.kernels.scan.selective_scan_step`;
    returns (y_t, new_state) in the dtypes of u_t and state. No autograd."""
    check_device(u_t, INTERPRETED)
    batch, d_inner, d_state = state.shape
    state, u_t, delta_t, A, B_t, C_t = (t.contiguous() for t in (state, u_t, delta_t, A, B_t, C_t))
    D, z_t, delta_bias = (None if t is None else t.contiguous() for t in (D, z_t, delta_bias))
    y_t = torch.empty_like(u_t)
    new_state = torch.empty_like(state)
    block_d = min(_STEP_BLOCK_D, triton.next_power_of_2(d_inner))
    n_d_blocks = triton.cdiv(d_inner, block_d)
    if batch and d_inner:
        _scan_step[(batch * n_d_blocks,)](
            state, u_t, delta_t, A, B_t, C_t,
            u_t if D is None else D, u_t if z_t is None else z_t, u_t if delta_bias is None else delta_bias,
            y_t, new_state, d_inner, d_state, n_d_blocks,
            HAS_D=D is not None, HAS_Z=z_t is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=delta_softplus,
            BLOCK_D=block_d, BLOCK_N=triton.next_power_of_2(d_state),
        )  # fmt: skip
    return y_t, new_state
