"""Selective scan (the S6 recurrence of Mamba): reference, fast CPU path, export path, dispatcher.

For every batch b, channel d and state n, with delta already shifted and soft-plussed:

    h_t = exp(delta_t * A) * h_{t-1} + delta_t * u_t * B_t        h: (batch, d_inner, d_state)
    y_t = sum_n h_t * C_t + D * u_t,  then  y_t * silu(z_t)

Layout follows mamba_ssm: u, delta, z (batch, d_inner, length); A (d_inner, d_state);
B, C (batch, d_state, length); D, delta_bias (d_inner).

Backends of :func:`selective_scan`:

- ``"reference"``: :func:`selective_scan_ref`, the plain form that materialises
  exp(delta * A) for every step (batch, d_inner, length, d_state) and loops over time in
  Python, as mamba_ssm's ``selective_scan_ref`` does. Slow, obviously right.
- ``"torch"``: the fast path for CPU training. Time runs over short chunks; inside a chunk the
  discretisation is computed in bulk and the recurrence advances with one fused in-place op per
  step, on a (batch, d_state, d_inner) state whose long axis is contiguous. Memory is held to a
  few chunk buffers. A hand-written backward recomputes each chunk from a checkpointed state
  and runs the adjoint recurrence backwards in the same way. See ``benchmarks/scan.py``.
- ``"chunked"``: :func:`selective_scan_chunked`, free of Python control flow that depends on the
  length: a fixed number of unrolled steps inside static-size chunks and a closed form across
  chunks, so ``torch.onnx.export(dynamo=True)`` gives a small graph without Loop ops.
- ``"quadratic"``: :func:`selective_scan_quadratic`, the sequence as one masked (length x length)
  matrix product per channel and state (the "dual" form of the recurrence): a handful of ops and
  no loop at all, for short sequences in exported graphs (the frequency path of a streaming
  model, 33 tokens a frame). A sequence of one chunk keeps only its causal (t, s) pairs
  (:func:`scan_pairs`). Memory grows as length squared, so not for long sequences.
- ``"triton"``: our Triton kernels, forward and backward (:mod:`tfsignal.kernels.scan_triton`): the
  state stays in registers while time advances in chunks, each chunk solved by a parallel
  associative scan. They take CUDA tensors; on the CPU they run only in Triton's interpreter
  (``TRITON_INTERPRET=1`` set before the first call), which the tests use to check them against
  the reference, and otherwise raise. :func:`selective_scan_step` takes ``backend="triton"`` too
  (one kernel for the whole step). Needs ``pip install 'tfsignal[gpu]'``.
- ``"auto"``: ``"chunked"`` while exporting; ``"triton"`` on CUDA for the shapes where
  ``benchmarks/kernels.py`` measured it faster than ``"torch"`` (:data:`TRITON_FASTER`); else
  ``"torch"``. No GPU has run that benchmark yet, so the table is empty.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from .triton_common import load

Backend = Literal["auto", "torch", "reference", "chunked", "quadratic", "triton"]

# Elements per chunk buffer (k steps x batch x d_state x d_inner). 2**19 floats (2 MiB) keeps
# the three chunk buffers of the backward near the last-level cache of a small CPU while the
# per-chunk bulk ops stay large enough to amortise their dispatch cost (benchmarks/scan.py).
_CHUNK_ELEMENTS = 2**19
_MAX_CHUNK_STEPS = 64
_MIN_CHUNK_STEPS = 16
_LOG_DECAY_FLOOR = -80.0


def _check_inputs(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None,
    z: Tensor | None,
    delta_bias: Tensor | None,
) -> None:
    if u.dim() != 3:
        raise ValueError(f"u must be (batch, d_inner, length), got shape {tuple(u.shape)}")
    batch, d_inner, length = u.shape
    if A.dim() != 2 or A.shape[0] != d_inner:
        raise ValueError(f"A must be (d_inner={d_inner}, d_state), got shape {tuple(A.shape)}")
    d_state = A.shape[1]
    expected = {
        "delta": (delta, (batch, d_inner, length)),
        "B": (B, (batch, d_state, length)),
        "C": (C, (batch, d_state, length)),
        "D": (D, (d_inner,)),
        "z": (z, (batch, d_inner, length)),
        "delta_bias": (delta_bias, (d_inner,)),
    }
    for name, (tensor, shape) in expected.items():
        if tensor is not None and tuple(tensor.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(tensor.shape)}")
    if u.is_complex() or A.is_complex():
        raise ValueError("complex selective scans are not supported")


def _discretised_delta(delta: Tensor, delta_bias: Tensor | None, delta_softplus: bool) -> Tensor:
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    return F.softplus(delta) if delta_softplus else delta


def _skip_and_gate(y: Tensor, u: Tensor, D: Tensor | None, z: Tensor | None) -> Tensor:
    if D is not None:
        y = y + D[:, None] * u
    if z is not None:
        y = y * F.silu(z)
    return y


def _compute_dtype(u: Tensor) -> torch.dtype:
    # Half precision accumulates the recurrence poorly (and is slow on CPU); run it in float32.
    return u.dtype if u.dtype in (torch.float32, torch.float64) else torch.float32


def _run_core(core, u, delta, A, B, C, D, z, delta_bias, delta_softplus) -> Tensor:
    """Shared wrapper of every backend: check shapes, work in float32 or better, discretise delta,
    run ``core(u, delta, A, B, C) -> y`` (no D, no gate), add the D skip and the SiLU gate, cast back."""
    _check_inputs(u, delta, A, B, C, D, z, delta_bias)
    dtype_in = u.dtype
    work = _compute_dtype(u)
    u, delta, A, B, C = (t.to(work) for t in (u, delta, A, B, C))
    D, z, delta_bias = (None if t is None else t.to(work) for t in (D, z, delta_bias))
    delta = _discretised_delta(delta, delta_bias, delta_softplus)
    y = _skip_and_gate(core(u, delta, A, B, C), u, D, z)
    return y.to(dtype_in)


def _scan_ref(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor) -> Tensor:
    decay = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))  # (b, d, l, n)
    drive = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)  # (b, d, l, n)
    state = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])  # (b, d, n)
    outputs = []
    for t in range(u.shape[2]):
        state = decay[:, :, t] * state + drive[:, :, t]
        outputs.append(torch.einsum("bdn,bn->bd", state, C[:, :, t]))
    return torch.stack(outputs, dim=2)  # (b, d, l)


def selective_scan_ref(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
) -> Tensor:
    """Plain selective scan: materialise the discretised system, loop over time in Python.

    Returns y of shape (batch, d_inner, length) in the dtype of ``u``.
    """
    return _run_core(_scan_ref, u, delta, A, B, C, D, z, delta_bias, delta_softplus)


# ----------------------------------------------------------------------------- fast CPU path


def _time_major(x: Tensor) -> Tensor:
    """(batch, channels, length) -> contiguous (length, batch, channels)."""
    return x.permute(2, 0, 1).contiguous()


def _chunk_steps(length: int, slab: int) -> int:
    # At least _MIN_CHUNK_STEPS steps per chunk even for wide slabs: below that, the fixed cost of
    # the per-chunk bulk ops dominates (many sequences x wide states, as in the models' frequency paths).
    return max(1, min(_MAX_CHUNK_STEPS, length, max(_MIN_CHUNK_STEPS, _CHUNK_ELEMENTS // slab)))


def _chunk_recurrence(
    start: Tensor, delta_c: Tensor, drive_c: Tensor, B_c: Tensor, A_t: Tensor, decay: Tensor, states: Tensor
) -> None:
    """Run the recurrence over one chunk of k steps, writing into preallocated buffers.

    start (b, n, d) is the state before the chunk; delta_c, drive_c (= delta * u) are (k, b, d);
    B_c (k, b, n); A_t (n, d). Fills decay with exp(delta * A) and states with h_t, (k, b, n, d).
    """
    torch.mul(delta_c[:, :, None, :], A_t, out=decay)
    # exp() of arguments below about -87 underflows into subnormals, which CPUs compute >10x slower;
    # exp(-80) = 2e-35 already decays a state to nothing, so the clamp changes no result.
    decay.clamp_(min=_LOG_DECAY_FLOOR).exp_()
    torch.mul(B_c[:, :, :, None], drive_c[:, :, None, :], out=states)
    previous = start
    for j in range(states.shape[0]):
        states[j].addcmul_(decay[j], previous)
        previous = states[j]


def _scan_forward(
    delta_t: Tensor,
    drive_t: Tensor,
    A_t: Tensor,
    B_t: Tensor,
    C_t: Tensor,
    keep_starts: bool,
    initial: Tensor | None = None,
) -> tuple[Tensor, Tensor | None, Tensor]:
    """Time-major scan. delta_t, drive_t (l, b, d); A_t (n, d); B_t, C_t (l, b, n); the state
    before the first step is ``initial`` (b, n, d), zero when None.

    Returns y (l, b, d), when ``keep_starts`` the state before every chunk (chunks, b, n, d), and
    the state after the last step (b, n, d).
    """
    length, batch, d_inner = delta_t.shape
    d_state = A_t.shape[0]
    k_max = _chunk_steps(length, batch * d_state * d_inner)
    n_chunks = -(-length // k_max)
    y_t = delta_t.new_empty(length, batch, d_inner)
    decay = delta_t.new_empty(k_max, batch, d_state, d_inner)
    states = delta_t.new_empty(k_max, batch, d_state, d_inner)
    starts = delta_t.new_zeros(n_chunks if keep_starts else 1, batch, d_state, d_inner)
    if initial is not None:
        starts[0].copy_(initial)
    start = starts[0]
    for c, t0 in enumerate(range(0, length, k_max)):
        t1 = min(t0 + k_max, length)
        k = t1 - t0
        if c > 0:  # the chunk buffers are about to be overwritten: keep the state that enters this chunk
            slot = starts[c] if keep_starts else starts[0]
            slot.copy_(start)
            start = slot
        _chunk_recurrence(start, delta_t[t0:t1], drive_t[t0:t1], B_t[t0:t1], A_t, decay[:k], states[:k])
        # y_t = sum_n C_t[n] h_t[n, :]: a (1, n) @ (n, d) product per (step, batch).
        torch.bmm(
            C_t[t0:t1].view(k * batch, 1, d_state),
            states[:k].view(k * batch, d_state, d_inner),
            out=y_t[t0:t1].view(k * batch, 1, d_inner),
        )
        start = states[k - 1]
    return y_t, (starts if keep_starts else None), start.clone()


class _SelectiveScan(torch.autograd.Function):
    """Core scan y = scan(u, delta, A, B, C) with delta already discretised (no D, no gate)."""

    @staticmethod
    def forward(ctx, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor) -> Tensor:
        delta_t, u_t = _time_major(delta), _time_major(u)  # (l, b, d)
        B_t, C_t = _time_major(B), _time_major(C)  # (l, b, n)
        A_t = A.t().contiguous()  # (n, d)
        y_t, starts, _ = _scan_forward(delta_t, delta_t * u_t, A_t, B_t, C_t, keep_starts=True)
        ctx.save_for_backward(u_t, delta_t, A_t, B_t, C_t, starts)
        return y_t.permute(1, 2, 0)  # (b, d, l)

    @staticmethod
    def backward(ctx, grad_y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        # Adjoint recurrence: lam_t = dL/dh_t = C_t g_t + exp(delta_{t+1} A) lam_{t+1}. From it,
        # with w_t = lam_t * exp(delta_t A) * h_{t-1} (the part of lam_t that reaches the decay):
        #   dC_t = sum_d g_t h_t     dB_t = sum_d lam_t delta_t u_t     dA = sum_{b,t} w_t delta_t
        #   du_t = delta_t sum_n lam_t B_t       ddelta_t = u_t sum_n lam_t B_t + sum_n w_t A
        u_t, delta_t, A_t, B_t, C_t, starts = ctx.saved_tensors
        length, batch, d_inner = delta_t.shape
        d_state = A_t.shape[0]
        k_max = _chunk_steps(length, batch * d_state * d_inner)
        g_t = _time_major(grad_y)  # (l, b, d)
        drive_t = delta_t * u_t
        grad_u_t = torch.empty_like(u_t)
        grad_delta_t = torch.empty_like(delta_t)
        grad_A_t = torch.zeros_like(A_t)
        grad_B_t = torch.empty_like(B_t)
        grad_C_t = torch.empty_like(C_t)
        decay = delta_t.new_empty(k_max, batch, d_state, d_inner)
        states = delta_t.new_empty(k_max, batch, d_state, d_inner)
        lam = delta_t.new_empty(k_max, batch, d_state, d_inner)
        carry = delta_t.new_zeros(batch, d_state, d_inner)  # exp(delta_{t+1} A) lam_{t+1}
        chunk_starts = list(range(0, length, k_max))
        for c in reversed(range(len(chunk_starts))):
            t0 = chunk_starts[c]
            t1 = min(t0 + k_max, length)
            k = t1 - t0
            rows = k * batch
            dec, hs, lm = decay[:k], states[:k], lam[:k]
            _chunk_recurrence(starts[c], delta_t[t0:t1], drive_t[t0:t1], B_t[t0:t1], A_t, dec, hs)
            torch.mul(C_t[t0:t1, :, :, None], g_t[t0:t1, :, None, :], out=lm)
            lm[k - 1].add_(carry)
            for j in range(k - 2, -1, -1):
                lm[j].addcmul_(dec[j + 1], lm[j + 1])
            torch.mul(dec[0], lm[0], out=carry)
            torch.bmm(
                hs.view(rows, d_state, d_inner),
                g_t[t0:t1].view(rows, d_inner, 1),
                out=grad_C_t[t0:t1].view(rows, d_state, 1),
            )
            torch.bmm(
                lm.view(rows, d_state, d_inner),
                drive_t[t0:t1].view(rows, d_inner, 1),
                out=grad_B_t[t0:t1].view(rows, d_state, 1),
            )
            lam_b = torch.bmm(B_t[t0:t1].view(rows, 1, d_state), lm.view(rows, d_state, d_inner))
            lam_b = lam_b.view(k, batch, d_inner)
            w = dec.mul_(lm)  # the decay buffer is free once carry is formed
            w[0].mul_(starts[c])
            w[1:].mul_(hs[:-1])
            torch.mul(delta_t[t0:t1], lam_b, out=grad_u_t[t0:t1])
            torch.addcmul(
                torch.einsum("kbnd,nd->kbd", w, A_t),
                u_t[t0:t1],
                lam_b,
                out=grad_delta_t[t0:t1],
            )
            grad_A_t += w.mul_(delta_t[t0:t1, :, None, :]).sum(dim=(0, 1))
        return (
            grad_u_t.permute(1, 2, 0),
            grad_delta_t.permute(1, 2, 0),
            grad_A_t.t(),
            grad_B_t.permute(1, 2, 0),
            grad_C_t.permute(1, 2, 0),
        )


def _scan_fast(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor) -> Tensor:
    """Differentiable fast path; delta already discretised."""
    return _SelectiveScan.apply(u, delta, A, B, C)


def _scan_inference(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None,
    z: Tensor | None,
    delta_bias: Tensor | None,
    delta_softplus: bool,
    initial: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Fast path without autograd: everything, discretisation and gate included, stays time-major.
    Starts from ``initial`` (b, d, n) (zero when None); returns y (b, d, l) and the last state (b, d, n).

    Each input is transposed once; working in (length, batch, d_inner) avoids strided element-wise
    passes over the (batch, d_inner, length) layout, which cost as much as the scan itself.
    """
    delta_t = _time_major(delta)  # (l, b, d)
    if delta_bias is not None:
        delta_t = delta_t + delta_bias  # not in place: _time_major may return the caller's tensor
    if delta_softplus:
        delta_t = F.softplus(delta_t)
    u_t = _time_major(u)
    start = None if initial is None else initial.transpose(1, 2)  # (b, n, d)
    y_t, _, last = _scan_forward(
        delta_t, delta_t * u_t, A.t().contiguous(), _time_major(B), _time_major(C), False, start
    )
    if D is not None:
        y_t.addcmul_(u_t, D)
    if z is not None:
        y_t.mul_(F.silu(_time_major(z)))
    return y_t.permute(1, 2, 0), last.transpose(1, 2)  # (b, d, l) view, (b, d, n)


# ------------------------------------------------------------------------ chunked export path


def _scan_chunked(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, chunk_size: int) -> Tensor:
    batch, d_inner, length = u.shape
    pad = (-length) % chunk_size
    # Zero delta on the padded tail: decay 1 and no input, so real steps are untouched.
    u, delta, B, C = (F.pad(t, (0, pad)) for t in (u, delta, B, C))
    n_chunks = (length + pad) // chunk_size
    shape = (batch, d_inner, n_chunks, chunk_size, -1)
    log_decay = torch.einsum("bdl,dn->bdln", delta, A).reshape(shape)  # (b, d, M, K, n)
    drive = torch.einsum("bdl,bnl->bdln", delta * u, B).reshape(shape)  # (b, d, M, K, n)
    decay = torch.exp(log_decay)
    # Inside each chunk, from a zero state: chunk_size unrolled steps, all chunks at once.
    local = [drive[:, :, :, 0]]
    for j in range(1, chunk_size):
        local.append(decay[:, :, :, j] * local[-1] + drive[:, :, :, j])
    local_states = torch.stack(local, dim=3)  # (b, d, M, K, n)
    within = torch.cumsum(log_decay, dim=3)  # log decay from chunk start to each step
    # Across chunks: state after chunk m = sum_{j <= m} exp(sum_{r=j+1..m} total_r) end_j, the
    # sums formed by a masked cumulative sum (never a difference of large cumulative sums).
    total = within[:, :, :, -1].transpose(2, 3)  # (b, d, n, M)
    ends = local_states[:, :, :, -1].transpose(2, 3)  # (b, d, n, M)
    rows = torch.arange(n_chunks, device=u.device)
    later = rows[:, None] > rows[None, :]  # (M, M): row m, column j, m > j
    sums = torch.cumsum(torch.where(later, total[..., :, None], 0.0), dim=-2)  # (b, d, n, M, M)
    weights = torch.exp(torch.where(later | (rows[:, None] == rows[None, :]), sums, -torch.inf))
    after = torch.einsum("bdnmj,bdnj->bdmn", weights, ends)  # (b, d, M, n)
    before = F.pad(after[:, :, :-1], (0, 0, 1, 0))  # state entering each chunk
    states = local_states + torch.exp(within) * before[:, :, :, None]  # (b, d, M, K, n)
    C_chunks = C.reshape(batch, -1, n_chunks, chunk_size)  # (b, n, M, K)
    y = torch.einsum("bdmkn,bnmk->bdmk", states, C_chunks).reshape(batch, d_inner, -1)
    return y[:, :, :length]


def selective_scan_chunked(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
    chunk_size: int = 16,
) -> Tensor:
    """Selective scan for export: static chunks, no length-dependent Python control flow.

    ``chunk_size`` steps are unrolled inside every chunk (all chunks at once) and the chunks
    are joined in closed form, so the traced graph has a fixed size whatever the length.
    Memory grows as batch * d_inner * length * d_state (plus batch * d_inner * d_state *
    (length / chunk_size)**2), which suits inference on short streaming chunks, not training.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")

    def core(u, delta, A, B, C):
        return _scan_chunked(u, delta, A, B, C, chunk_size)

    return _run_core(core, u, delta, A, B, C, D, z, delta_bias, delta_softplus)


def scan_matrix(delta: Tensor, A: Tensor, B: Tensor, C: Tensor) -> Tensor:
    """The scan from a zero state as a matrix: (..., d, t, s) weights of input s in output t,
    C_t . (exp(A * sum_{r=s+1..t} delta_r) B_s), zero for s > t, so y = weights @ (delta * u).

    delta (..., d, l) already discretised; A (..., d, n) broadcasting against the leading axes
    (one A per direction of a bidirectional pair, say); B, C (..., n, l).
    """
    length = delta.shape[-1]
    summed = torch.cumsum(delta, dim=-1)  # (..., d, l)
    gap = (summed[..., :, None] - summed[..., None, :]).clamp_min(0)  # (..., d, t, s)
    causal = torch.ones(length, length, dtype=torch.bool, device=delta.device).tril()  # (t, s)
    decay = torch.exp(A[..., None, None] * gap.unsqueeze(-3))  # (..., d, n, t, s); 1 where s > t
    mixing = C[..., :, None] * B[..., None, :] * causal  # (..., n, t, s): the mask here, d times smaller
    return (decay * mixing.unsqueeze(-4)).sum(-3)  # (..., d, t, s)


def scan_pairs(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor) -> Tensor:
    """y of the scan from a zero state over the causal pairs alone: :func:`scan_matrix`'s sum
    with the l (l + 1) / 2 pairs s <= t gathered into one axis, so the exponentials and products
    run over half the (t, s) grid and no mask is needed. A few more ops (gathers, one matrix
    product that sums each output's pairs) for half the arithmetic: the faster form of one short
    chunk in an exported graph. Same layout as :func:`scan_dual`.
    """
    length = delta.shape[-1]
    t, s = torch.tril_indices(length, length, device=delta.device)  # (P,) each: output and input of each pair
    summed = torch.cumsum(delta, dim=-1)  # (..., d, l), non-decreasing, so every gap >= 0
    gap = summed[..., t] - summed[..., s]  # (..., d, P)
    decay = torch.exp(A[..., None] * gap.unsqueeze(-2))  # (..., d, n, P)
    weights = (decay * (C[..., t] * B[..., s]).unsqueeze(-3)).sum(-2)  # (..., d, P)
    gather = F.one_hot(t, length).to(delta.dtype)  # (P, l): each pair into its output step
    return (weights * (delta * u)[..., s]) @ gather  # (..., d, l)


def scan_dual(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, chunk_size: int) -> Tensor:
    """y of the scan from a zero state in its matrix form, over chunks of ``chunk_size`` steps.

    u, delta (..., d, l) with delta discretised; A (..., d, n) broadcasting against the leading
    axes; B, C (..., n, l). Inside each chunk one masked product (:func:`scan_matrix`); the state
    is carried across chunks by a loop over them (unrolled in a graph). No D skip, no gate.
    """
    length = u.shape[-1]
    if length <= chunk_size:  # one chunk: its causal pairs alone, fewest ops and half the arithmetic
        return scan_pairs(u, delta, A, B, C)
    pad = (-length) % chunk_size
    # zero delta and input on the padded tail: decay 1 and nothing added, so real steps are untouched
    u, delta, B, C = (F.pad(t, (0, pad)) for t in (u, delta, B, C))
    n_chunks = (length + pad) // chunk_size

    def chunks(t: Tensor) -> Tensor:  # (..., X, L) -> (..., M, X, K)
        return t.unflatten(-1, (n_chunks, chunk_size)).movedim(-2, -3)

    delta_c, drive_c, B_c, C_c = chunks(delta), chunks(delta * u), chunks(B), chunks(C)
    A_c = A.unsqueeze(-3)  # (..., 1, d, n)
    y = (scan_matrix(delta_c, A_c, B_c, C_c) @ drive_c[..., None])[..., 0]  # (..., M, d, K)
    summed = torch.cumsum(delta_c, dim=-1)  # (..., M, d, K): decay from the chunk start
    to_end = summed[..., -1:] - summed  # decay from each step to the chunk end
    ends = torch.einsum(  # each chunk's end state from a zero start, (..., M, d, n)
        "...mdnk,...mnk,...mdk->...mdn", torch.exp(A_c[..., None] * to_end.unsqueeze(-2)), B_c, drive_c
    )
    state, entering = torch.zeros_like(ends[..., 0, :, :]), []
    for m in range(n_chunks):
        entering.append(state)
        state = torch.exp(A * summed[..., m, :, -1:]) * state + ends[..., m, :, :]
    entering = torch.stack(entering, dim=-3)  # (..., M, d, n)
    decay = torch.exp(A_c[..., None] * summed.unsqueeze(-2))  # (..., M, d, n, K)
    y = y + torch.einsum("...mdnk,...mdn,...mnk->...mdk", decay, entering, C_c)
    return y.movedim(-3, -2).flatten(-2)[..., :length]  # (..., d, l)


def selective_scan_quadratic(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
    chunk_size: int = 64,
) -> Tensor:
    """Selective scan in the matrix ("dual") form, for short sequences in exported graphs.

    A sequence of up to ``chunk_size`` steps is one masked product; inside longer sequences' chunks
    of ``chunk_size`` steps, y_t = sum_{s <= t} C_t . (exp(A * sum_{r=s+1..t} delta_r) * B_s)
    delta_s u_s for all (t, s) at once; the state is carried across chunks by a
    loop over the chunks (unrolled in a graph). In onnxruntime each op costs a few microseconds
    whatever its size, so one chunk (a 33-token frame) runs faster than three small ones.
    Memory batch * d_inner * d_state * length * min(length, chunk_size).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")

    def core(u, delta, A, B, C):
        return scan_dual(u, delta, A, B, C, chunk_size)

    return _run_core(core, u, delta, A, B, C, D, z, delta_bias, delta_softplus)


# --------------------------------------------------------------------------------- dispatcher


def exporting() -> bool:
    """True while torch.export or the ONNX exporter traces: code that loops in Python over a length
    (which the exporter would unroll into a graph that grows with the input) takes a static form."""
    return torch.compiler.is_exporting() or torch.onnx.is_in_onnx_export()


# Where benchmarks/kernels.py measured the Triton scan faster than "torch" on a GPU:
# (d_state, shortest, longest sequence), inclusive. Empty until that benchmark runs on a GPU.
TRITON_FASTER: tuple[tuple[int, int, int], ...] = ()


def _triton_faster(u: Tensor, A: Tensor) -> bool:
    if not u.is_cuda or importlib.util.find_spec("triton") is None:
        return False
    return any(n == A.shape[1] and lo <= u.shape[-1] <= hi for n, lo, hi in TRITON_FASTER)


def _scan_triton(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor) -> Tensor:
    return load("scan_triton").scan_triton(u, delta, A, B, C)


def _resolve_backend(backend: str, u: Tensor, A: Tensor) -> str:
    if backend == "auto":
        # the fast path loops over blocks of steps in Python; exported graphs take the static-chunk form
        if exporting():
            return "chunked"
        return "triton" if _triton_faster(u, A) else "torch"
    if backend not in ("torch", "reference", "chunked", "quadratic", "triton"):
        raise ValueError(
            f"unknown backend {backend!r}; expected 'auto', 'torch', 'reference', 'chunked', 'quadratic' or 'triton'"
        )
    return backend


def selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
    backend: Backend = "auto",
) -> Tensor:
    """Selective scan in mamba_ssm's layout; returns y (batch, d_inner, length).

    u, delta, z: (batch, d_inner, length); A: (d_inner, d_state); B, C: (batch, d_state,
    length); D, delta_bias: (d_inner). delta is shifted by delta_bias and passed through
    softplus (when ``delta_softplus``) before use. All backends are differentiable.
    """
    chosen = _resolve_backend(backend, u, A)
    if chosen == "triton":
        return _run_core(_scan_triton, u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    if chosen == "reference":
        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    if chosen == "chunked":
        return selective_scan_chunked(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    if chosen == "quadratic":
        return selective_scan_quadratic(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    tensors = (u, delta, A, B, C, D, z, delta_bias)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
        return _run_core(_scan_fast, u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    _check_inputs(*tensors)
    dtype_in = u.dtype
    work = _compute_dtype(u)
    u, delta, A, B, C, D, z, delta_bias = (None if t is None else t.to(work) for t in tensors)
    return _scan_inference(u, delta, A, B, C, D, z, delta_bias, delta_softplus)[0].to(dtype_in)


@torch.no_grad()
def selective_scan_continue(
    state: Tensor,
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
) -> tuple[Tensor, Tensor]:
    """Inference scan that continues from ``state`` (batch, d_inner, d_state): returns y (batch,
    d_inner, length) and the state after the last step, so a sequence scanned block by block
    gives :func:`selective_scan`'s output (streaming many steps per call; one step:
    :func:`selective_scan_step`). Layout as :func:`selective_scan`; no autograd."""
    _check_inputs(u, delta, A, B, C, D, z, delta_bias)
    if tuple(state.shape) != (u.shape[0], u.shape[1], A.shape[1]):
        raise ValueError(f"state must be (batch, d_inner, d_state) = {(u.shape[0], u.shape[1], A.shape[1])}")
    work = _compute_dtype(u)
    tensors = (u, delta, A, B, C, D, z, delta_bias)
    u, delta, A, B, C, D, z, delta_bias = (None if t is None else t.to(work) for t in tensors)
    return _scan_inference(u, delta, A, B, C, D, z, delta_bias, delta_softplus, state.to(work))


def selective_scan_step(
    state: Tensor,
    u_t: Tensor,
    delta_t: Tensor,
    A: Tensor,
    B_t: Tensor,
    C_t: Tensor,
    D: Tensor | None = None,
    z_t: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = True,
    backend: Literal["auto", "torch", "triton"] = "auto",
) -> tuple[Tensor, Tensor]:
    """One step of the scan for streaming: returns (y_t, new_state); nothing is modified in place.

    state: (batch, d_inner, d_state); u_t, delta_t, z_t: (batch, d_inner); B_t, C_t:
    (batch, d_state). Stepping over a sequence from a zero state equals :func:`selective_scan`.
    ``backend="triton"`` runs the whole step in one kernel (no autograd); ``"auto"`` is ``"torch"``.
    """
    if backend not in ("auto", "torch", "triton"):
        raise ValueError(f"unknown backend {backend!r}; expected 'auto', 'torch' or 'triton'")
    if state.dim() != 3:
        raise ValueError(f"state must be (batch, d_inner, d_state), got shape {tuple(state.shape)}")
    batch, d_inner, d_state = state.shape
    expected = {
        "u_t": (u_t, (batch, d_inner)),
        "delta_t": (delta_t, (batch, d_inner)),
        "A": (A, (d_inner, d_state)),
        "B_t": (B_t, (batch, d_state)),
        "C_t": (C_t, (batch, d_state)),
        "D": (D, (d_inner,)),
        "z_t": (z_t, (batch, d_inner)),
        "delta_bias": (delta_bias, (d_inner,)),
    }
    for name, (tensor, shape) in expected.items():
        if tensor is not None and tuple(tensor.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(tensor.shape)}")
    if backend == "triton":
        step = load("scan_triton").scan_step_triton
        return step(state, u_t, delta_t, A, B_t, C_t, D, z_t, delta_bias, delta_softplus)
    if delta_bias is not None:
        delta_t = delta_t + delta_bias
    if delta_softplus:
        delta_t = F.softplus(delta_t)
    decay = torch.exp(delta_t[:, :, None] * A)  # (b, d, n)
    new_state = decay * state + (delta_t * u_t)[:, :, None] * B_t[:, None, :]
    y_t = torch.einsum("bdn,bn->bd", new_state, C_t)
    if D is not None:
        y_t = y_t + D * u_t
    if z_t is not None:
        y_t = y_t * F.silu(z_t)
    return y_t, new_state
