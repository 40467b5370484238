"""Mamba (Gu & Dao 2023) in plain PyTorch, its pre-norm residual block and a bidirectional wrapper.

The parameters and their initialisation follow the reference ``Mamba`` module of mamba_ssm, so
parameter counts and state dicts line up with the published models; the scan itself runs in
:func:`tfsignal.kernels.selective_scan`, so no CUDA-only package is needed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tfsignal.kernels import scan_dual, selective_scan, selective_scan_continue, selective_scan_step

from .norm import RMSNorm


class Mamba(nn.Module):
    """Selective state-space mixer on (batch, length, d_model).

    in_proj -> causal depthwise conv1d + SiLU -> x_proj (dt, B, C) -> dt_proj -> selective scan
    with D skip and SiLU(z) gate -> out_proj.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | None = None,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        dt_init_floor: float = 1e-4,
        scan_backend: str = "auto",
    ) -> None:
        super().__init__()
        self.d_inner = expand * d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.dt_rank = dt_rank or math.ceil(d_model / 16)
        self.scan_backend = scan_backend
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)
        # S4D-real initialisation: A = -(1, 2, ..., d_state) for every channel.
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)  # (d_inner, d_state)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        # Step sizes start log-uniform in [dt_min, dt_max]: the bias is softplus^-1 of them.
        with torch.no_grad():
            bound = self.dt_rank**-0.5
            self.dt_proj.weight.uniform_(-bound, bound)
            dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
            dt = dt.clamp(min=dt_init_floor)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def _ssm_inputs(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """x (..., d_inner) -> delta before bias (..., d_inner), B and C (..., d_state)."""
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        return F.linear(dt, self.dt_proj.weight), B, C

    def _scan_operands(self, x: Tensor, z: Tensor) -> tuple[Tensor, ...]:
        """The scan's u, delta, A, B, C, D, z and delta_bias in its layout, from the conv output x
        (B, d_inner, L) and the gate z (B, L, d_inner)."""
        delta, B, C = self._ssm_inputs(x.transpose(1, 2))  # (B, L, d_inner), (B, L, d_state) x2
        A = -torch.exp(self.A_log.float())
        bias = self.dt_proj.bias.float()
        return (
            x,
            delta.transpose(1, 2),
            A,
            B.transpose(1, 2),
            C.transpose(1, 2),
            self.D.float(),
            z.transpose(1, 2),
            bias,
        )

    def forward(self, hidden: Tensor) -> Tensor:
        length = hidden.shape[1]
        x, z = self.in_proj(hidden).chunk(2, dim=-1)  # each (B, L, d_inner)
        x = F.silu(self.conv1d(x.transpose(1, 2))[..., :length])  # (B, d_inner, L), causal
        y = selective_scan(
            *self._scan_operands(x, z), delta_softplus=True, backend=self.scan_backend
        )  # (B, d_inner, L)
        return self.out_proj(y.transpose(1, 2))  # (B, L, d_model)

    def initial_state(self, batch: int, device=None, dtype=torch.float32) -> tuple[Tensor, Tensor]:
        """Zero streaming state: (conv state (B, d_inner, d_conv - 1), ssm state (B, d_inner, d_state))."""
        return (
            torch.zeros(batch, self.d_inner, self.d_conv - 1, device=device, dtype=dtype),
            torch.zeros(batch, self.d_inner, self.d_state, device=device, dtype=dtype),
        )

    def stream(self, hidden: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Continue a sequence: (batch, length, d_model) after ``state`` -> (output, new state).

        Feeding a sequence block by block from :meth:`initial_state` equals ``forward`` on the whole
        of it (inference only). The conv reads the carried last ``d_conv - 1`` inputs instead of zeros.
        """
        conv_state, ssm_state = state
        x, z = self.in_proj(hidden).chunk(2, dim=-1)  # each (B, L, d_inner)
        window = torch.cat([conv_state, x.transpose(1, 2)], dim=-1)  # (B, d_inner, d_conv - 1 + L)
        x = F.silu(F.conv1d(window, self.conv1d.weight, self.conv1d.bias, groups=self.d_inner))  # (B, d_inner, L)
        y, ssm_state = selective_scan_continue(ssm_state, *self._scan_operands(x, z))  # (B, d_inner, L)
        return self.out_proj(y.transpose(1, 2)), (window[:, :, -(self.d_conv - 1) :], ssm_state)

    def step(self, hidden_t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One time step (batch, d_model) -> (output (batch, d_model), new state); equals ``forward``."""
        conv_state, ssm_state = state
        x, z = self.in_proj(hidden_t).chunk(2, dim=-1)  # each (B, d_inner)
        window = torch.cat([conv_state, x[:, :, None]], dim=-1)  # (B, d_inner, d_conv)
        x = F.silu((window * self.conv1d.weight[:, 0]).sum(-1) + self.conv1d.bias)
        delta, B, C = self._ssm_inputs(x)
        y, ssm_state = selective_scan_step(
            ssm_state, x, delta, -torch.exp(self.A_log.float()), B, C, self.D.float(), z, self.dt_proj.bias.float()
        )
        return self.out_proj(y), (window[:, :, 1:], ssm_state)


class MambaBlock(nn.Module):
    """Pre-norm residual Mamba layer: x + Mamba(RMSNorm(x)), as mamba_ssm's ``Block`` with one layer."""

    def __init__(self, d_model: int, norm_eps: float = 1e-5, **mamba_kwargs) -> None:
        super().__init__()
        self.norm = RMSNorm(d_model, eps=norm_eps)
        self.mixer = Mamba(d_model, **mamba_kwargs)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.mixer(self.norm(x))

    def stream(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Continue a sequence (batch, length, d_model) after ``state`` (see ``Mamba.stream``)."""
        y, state = self.mixer.stream(self.norm(x), state)
        return x + y, state

    def step(self, x_t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One time step (batch, d_model) -> (output, new state), equal to ``forward`` (see ``Mamba.step``)."""
        y, state = self.mixer.step(self.norm(x_t), state)
        return x_t + y, state


class BiMamba(nn.Module):
    """Bidirectional Mamba on (batch, length, d_model) -> (batch, length, 2 * d_model).

    One block reads forwards, an independent one reads the time-reversed sequence; the outputs are
    concatenated on the feature axis (SEMamba / MambAttention).
    """

    def __init__(self, d_model: int, **block_kwargs) -> None:
        super().__init__()
        self.forward_block = MambaBlock(d_model, **block_kwargs)
        self.backward_block = MambaBlock(d_model, **block_kwargs)

    def forward(self, x: Tensor) -> Tensor:
        if self.forward_block.mixer.scan_backend == "quadratic":  # short sequences: one batched pass
            return self.paired(x)
        ahead = self.forward_block(x)
        behind = self.backward_block(x.flip(1)).flip(1)
        return torch.cat([ahead, behind], dim=-1)

    def paired(self, x: Tensor) -> Tensor:
        """``forward`` with both directions as one batched computation and the scan in closed form
        over its causal (t, s) pairs (:func:`tfsignal.kernels.scan_dual`): the same numbers with
        half the ops, which is what counts in an exported graph over short sequences (a frame's
        frequency tokens). Memory grows as length squared."""
        blocks = (self.forward_block, self.backward_block)
        mixers = [block.mixer for block in blocks]
        m = mixers[0]
        n, length, _ = x.shape

        def stacked(get) -> Tensor:  # one tensor per direction, stacked on a new first axis
            return torch.stack([get(mixer) for mixer in mixers])

        xs = torch.stack([x, x.flip(1)])  # (2, N, L, C)
        norm = torch.stack([block.norm.weight for block in blocks])[:, None, None]  # (2, 1, 1, C)
        h = xs * torch.rsqrt(xs.pow(2).mean(-1, keepdim=True) + blocks[0].norm.eps) * norm
        u, z = (h @ stacked(lambda k: k.in_proj.weight.T)[:, None]).chunk(2, dim=-1)  # each (2, N, L, D)
        u = u.permute(1, 0, 3, 2).reshape(n, 2 * m.d_inner, length)  # (N, 2 D, L): directions as channels
        weight = torch.cat([k.conv1d.weight for k in mixers])
        bias = torch.cat([k.conv1d.bias for k in mixers])
        u = F.conv1d(u, weight, bias, padding=m.d_conv - 1, groups=2 * m.d_inner)[..., :length]
        u = F.silu(u).view(n, 2, m.d_inner, length).transpose(0, 1)  # (2, N, D, L)
        dt, B, C = (u.transpose(-1, -2) @ stacked(lambda k: k.x_proj.weight.T)[:, None]).split(
            [m.dt_rank, m.d_state, m.d_state], dim=-1
        )  # (2, N, L, r), (2, N, L, n) x2
        delta = (
            dt @ stacked(lambda k: k.dt_proj.weight.T)[:, None]
            + stacked(lambda k: k.dt_proj.bias.float())[:, None, None]
        )
        delta = F.softplus(delta).transpose(-1, -2)  # (2, N, D, L)
        A = -torch.exp(stacked(lambda k: k.A_log.float()))[:, None]  # (2, 1, D, n)
        # one chunk: in onnxruntime each op costs microseconds whatever its size, so for a frame's
        # 33 tokens one product over the causal (t, s) pairs beats chunks of 11 (measured: 380 vs
        # 464 ops, ~25 % faster), and the 561 pairs beat the masked 33 x 33 grid (~12 % a hop)
        y = scan_dual(u, delta, A, B.transpose(-1, -2), C.transpose(-1, -2), chunk_size=length)  # (2, N, D, L)
        y = y + u * stacked(lambda k: k.D.float())[:, None, :, None]
        y = y.transpose(-1, -2) * F.silu(z)  # (2, N, L, D)
        out = xs + y @ stacked(lambda k: k.out_proj.weight.T)[:, None]  # (2, N, L, C), each block's residual
        return torch.cat([out[0], out[1].flip(1)], dim=-1)
