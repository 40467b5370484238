"""TIGER: speech separation with band-split, multi-scale and full-frequency-frame modelling.

Xu, Li, Chen and Hu, "TIGER: Time-frequency Interleaved Gain Extraction and Reconstruction for
Efficient Speech Separation", ICLR 2025 (official repository JusperLee/TIGER).

    mixture (B, T) -> STFT (40 ms Hann window, 10 ms hop) -> (B, F, frames) real and imaginary
    band split in Hz (0-1 kHz 25 Hz bands, 1-2 kHz 100 Hz, 2-4 kHz 250 Hz, 4-8 kHz 500 Hz, one
    leftover band up to Nyquist: 67 bands at 16 kHz); per band GroupNorm -> 1x1 conv to N channels
    separator: ONE frequency-frame interleaved (FFI) block applied B times with the same weights;
        from the second pass its input is depthwise 1x1 conv + PReLU of (separator input + output)
        FFI block:  x + LN(F3A(MSA(x))) across bands, then x + LN(F3A(MSA(x))) across frames
        MSA  (multi-scale selective attention): 1x1 conv N -> D, a pyramid of depthwise k=5
             convs (stride 1, then stride 2), a global feature from all scales pooled to the
             coarsest one + MLP, gates local * sigmoid(global) + global, top-down fusion, 1x1 D -> N
        F3A  (full-frequency-frame attention): per head 1x1 conv -> PReLU -> LN queries and keys of
             E channels and values of N / heads channels; one token per band (or frame) carries
             all frames (or bands), so a query is E x frames (or E x bands) wide
    per band PReLU -> 1x1 conv -> complex masks for every source, made to sum to 1 + 0j over the
    sources -> masked mixture spectrum -> iSTFT -> (B, n_sources, T)

Because the masks sum to one, the separated sources add up to the mixture (up to the STFT round
trip). Parameters are 0.82 M for both published sizes, since the FFI block is shared: "tiger-small"
runs it 4 times, "tiger-large" 8 times.

Departures from the reference code, none of which changes the parameter count:
- The MSA pools every scale to the coarsest with average pooling of window and stride 2^k
  (the last window partial) instead of adaptive pooling: the same windows when lengths divide, and
  exportable to ONNX when they do not. Coarse features return to a finer scale by repeating each
  value 2^k times, so a coarse position covers exactly the fine positions its stride-2 convs saw.
- The MSA's top-down fusion starts from the coarsest scale and goes up one scale at a time, as the
  paper describes; the reference code starts from the second-coarsest and leaves the coarsest out.
- The output conv of the masks is grouped by source (each source reads its own N / n_sources
  channels); the reference groups the same number of weights across a (value/gate, re/im, source)
  layout. When n_sources does not divide N (3 sources, 128 channels) the groups are gcd(N, n_sources).
- Depthwise convolutions run as (1, k) Conv2d on channels-last inputs (:class:`DepthwiseConv1d`):
  the same weights and numbers as Conv1d, faster to train on a CPU.
- n_fft and hop_length follow the sampling rate (40 ms and 10 ms) unless set, so the bands, defined
  in Hz, hold the same bins at any rate; at 8 kHz the bands above 4 kHz drop out (59 bands).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tfsignal.frontends import STFT, TIGER_BANDS_HZ, BandSplit, band_edges
from tfsignal.kernels import attention

from .base import Model, port
from .registry import register


@dataclass
class Config:
    sample_rate: int = 16000
    n_fft: int = 0  # 0: 40 ms at sample_rate (640 at 16 kHz)
    hop_length: int = 0  # 0: 10 ms at sample_rate (160 at 16 kHz)
    bands_hz: tuple[tuple[float, float], ...] = TIGER_BANDS_HZ  # (upper edge, band width) in Hz, cut at Nyquist
    n_sources: int = 2
    channels: int = 128  # N: features per band
    msa_channels: int = 256  # D: width inside the MSA
    msa_scales: int = 5  # the full-rate scale plus 4 stride-2 scales
    msa_kernel: int = 5
    n_repeats: int = 4  # B: passes through the shared FFI block (4 small, 8 large)
    heads: int = 4
    qk_channels: int = 4  # E: query/key channels per head; values get channels / heads
    dropout: float = 0.1  # in the MSA's global MLP
    norm_eps: float = 1e-8  # GroupNorm inside the MSA and the band encoders
    stft_backend: str = "fft"  # "conv" for ONNX export
    attention_backend: str = "auto"

    def __post_init__(self) -> None:
        if not self.n_fft:
            self.n_fft = round(0.04 * self.sample_rate)
        if not self.hop_length:
            self.hop_length = round(0.01 * self.sample_rate)
        self.bands_hz = tuple(tuple(pair) for pair in self.bands_hz)  # lists after a JSON round trip
        if self.n_sources < 1:
            raise ValueError(f"n_sources must be at least 1, got {self.n_sources}")
        if self.channels % self.heads:
            raise ValueError(f"channels {self.channels} must divide by heads {self.heads}")


def group_norm(channels: int, eps: float) -> nn.GroupNorm:
    """One group: statistics over all channels and positions of each example (global layer norm)."""
    return nn.GroupNorm(1, channels, eps=eps)


class ChannelNorm(nn.Module):
    """Layer norm over the channel axis (dim 1) at every position of (B, C, ...)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight.view(shape) + self.bias.view(shape)


def pool_to(x: Tensor, factor: int) -> Tensor:
    """Average over windows of ``factor`` along the last axis; the last window may be partial."""
    if factor == 1:
        return x
    return F.avg_pool1d(x, factor, factor, ceil_mode=True, count_include_pad=False)


def repeat_to(x: Tensor, factor: int, length: int) -> Tensor:
    """Repeat every value ``factor`` times along the last axis and cut to ``length``."""
    if factor == 1:
        return x[..., :length]
    return x.repeat_interleave(factor, dim=-1)[..., :length]


# ------------------------------------------------------------------ multi-scale selective attention


class DepthwiseConv1d(nn.Conv1d):
    """A depthwise Conv1d (one group per channel, 'same' padding) computed as a (1, k) Conv2d on a
    channels-last input: the same weights and outputs as ``nn.Conv1d``, and on a CPU the forward +
    backward pass ran 1.6-2.2x faster along bands and as fast or faster along frames
    (benchmarks/depthwise.py); a training step of tiger-cpu 1.4x faster."""

    def __init__(self, channels: int, kernel: int, stride: int = 1, bias: bool = True) -> None:
        super().__init__(channels, channels, kernel, stride, (kernel - 1) // 2, groups=channels, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        x4 = x[:, :, None].contiguous(memory_format=torch.channels_last)  # (B, C, 1, L), C fastest
        y = F.conv2d(x4, self.weight[:, :, None], self.bias, (1, self.stride[0]), (0, self.padding[0]), 1, self.groups)
        return y[:, :, 0]  # (B, C, L')


def conv1d(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = True) -> nn.Conv1d:
    """A 'same'-padded Conv1d; the depthwise ones (groups = c_in = c_out, k > 1) as :class:`DepthwiseConv1d`."""
    if groups == c_in == c_out and kernel > 1:
        return DepthwiseConv1d(c_in, kernel, stride, bias)
    return nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups, bias=bias)


class ConvNorm(nn.Sequential):
    """Conv1d ('same' padding) -> GroupNorm(1), the unit of the MSA."""

    def __init__(self, c_in: int, c_out: int, kernel: int, eps: float, stride: int = 1, groups: int = 1, bias=True):
        super().__init__(conv1d(c_in, c_out, kernel, stride, groups, bias), group_norm(c_out, eps))


class SelectiveFusion(nn.Module):
    """local * sigmoid(gate(global)) + embed(global), each a depthwise ConvNorm; the global (coarser)
    feature is repeated up to the local one's length."""

    def __init__(self, channels: int, kernel: int, eps: float) -> None:
        super().__init__()
        self.local = ConvNorm(channels, channels, kernel, eps, groups=channels, bias=False)
        self.gate = ConvNorm(channels, channels, kernel, eps, groups=channels, bias=False)
        self.embed = ConvNorm(channels, channels, kernel, eps, groups=channels, bias=False)

    def forward(self, local: Tensor, coarse: Tensor, factor: int) -> Tensor:
        length = local.shape[-1]
        gate = repeat_to(torch.sigmoid(self.gate(coarse)), factor, length)
        return self.local(local) * gate + repeat_to(self.embed(coarse), factor, length)


class GlobalMLP(nn.Module):
    """1x1 ConvNorm -> depthwise k=5 conv -> ReLU -> 1x1 ConvNorm, with dropout, at the coarsest scale."""

    def __init__(self, channels: int, cfg: Config) -> None:
        super().__init__()
        k = cfg.msa_kernel
        self.inp = ConvNorm(channels, channels, 1, cfg.norm_eps, bias=False)
        self.depthwise = DepthwiseConv1d(channels, k)
        self.out = ConvNorm(channels, channels, 1, cfg.norm_eps, bias=False)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.dropout(torch.relu(self.depthwise(self.inp(x))))
        return self.dropout(self.out(x))


class MSA(nn.Module):
    """Multi-scale selective attention along the last axis of (B', N, L), with a residual."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        n, d, k, eps = cfg.channels, cfg.msa_channels, cfg.msa_kernel, cfg.norm_eps
        self.proj = nn.Sequential(ConvNorm(n, d, 1, eps), nn.PReLU())
        self.scales = nn.ModuleList(
            ConvNorm(d, d, k, eps, stride=1 if i == 0 else 2, groups=d) for i in range(cfg.msa_scales)
        )
        self.global_mlp = GlobalMLP(d, cfg)
        self.inject = nn.ModuleList(SelectiveFusion(d, 1, eps) for _ in range(cfg.msa_scales))
        self.top_down = nn.ModuleList(SelectiveFusion(d, k, eps) for _ in range(cfg.msa_scales - 1))
        self.out = nn.Conv1d(d, n, 1)

    def forward(self, x: Tensor) -> Tensor:
        features = [self.scales[0](self.proj(x))]  # (B', D, L)
        for conv in self.scales[1:]:
            features.append(conv(features[-1]))  # (B', D, ceil(L / 2^i))
        last = len(features) - 1
        # ceil(ceil(L / 2^i) / 2^j) = ceil(L / 2^(i + j)): every scale pools to the coarsest length
        pooled = sum(pool_to(f, 2 ** (last - i)) for i, f in enumerate(features))
        context = self.global_mlp(pooled)  # (B', D, ceil(L / 2^last))
        fused = [inject(f, context, 2 ** (last - i)) for i, (f, inject) in enumerate(zip(features, self.inject))]
        y = fused[last]
        for i in range(last - 1, -1, -1):
            y = self.top_down[i](fused[i], y, 2)  # (B', D, ceil(L / 2^i))
        return self.out(y) + x


# ------------------------------------------------------------------ full-frequency-frame attention


class HeadProjection(nn.Module):
    """Per head: 1x1 conv -> PReLU -> layer norm over the head's channels, on (B, N, L, M)."""

    def __init__(self, c_in: int, heads: int, width: int) -> None:
        super().__init__()
        self.heads, self.width = heads, width
        self.conv = nn.Conv2d(c_in, heads * width, 1)
        self.slope = nn.Parameter(torch.full((heads,), 0.25))  # one PReLU per head
        self.weight = nn.Parameter(torch.ones(heads, width))
        self.bias = nn.Parameter(torch.zeros(heads, width))

    def forward(self, x: Tensor) -> Tensor:
        b, _, length, m = x.shape
        y = self.conv(x).view(b, self.heads, self.width, length, m)  # (B, H, W, L, M)
        y = F.prelu(y, self.slope)
        mean = y.mean(2, keepdim=True)
        var = (y - mean).pow(2).mean(2, keepdim=True)
        y = (y - mean) * torch.rsqrt(var + 1e-5)
        return y * self.weight[None, :, :, None, None] + self.bias[None, :, :, None, None]


class F3A(nn.Module):
    """Attention along axis 2 of (B, N, L, M); each of the L tokens carries its whole M axis.

    Across bands (L = bands) a token is a band over all frames; across frames (L = frames) it is a
    frame over all bands. Output: concat heads -> 1x1 conv -> PReLU -> channel LN, plus residual.
    """

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        n, h = cfg.channels, cfg.heads
        self.heads, self.backend = h, cfg.attention_backend
        self.query = HeadProjection(n, h, cfg.qk_channels)
        self.key = HeadProjection(n, h, cfg.qk_channels)
        self.value = HeadProjection(n, h, n // h)
        self.out = nn.Sequential(nn.Conv2d(n, n, 1), nn.PReLU(), ChannelNorm(n))

    def forward(self, x: Tensor) -> Tensor:
        b, n, length, m = x.shape

        def tokens(y: Tensor) -> Tensor:  # (B, H, W, L, M) -> (B, H, L, W * M)
            return y.permute(0, 1, 3, 2, 4).reshape(b, self.heads, length, -1)

        q, k, v = tokens(self.query(x)), tokens(self.key(x)), tokens(self.value(x))
        y = attention(q, k, v, backend=self.backend)  # (B, H, L, N / H * M)
        y = y.view(b, self.heads, length, n // self.heads, m).permute(0, 1, 3, 2, 4)  # (B, H, N / H, L, M)
        return self.out(y.reshape(b, n, length, m)) + x


# ----------------------------------------------------------------------------------- FFI block


class FFIBlock(nn.Module):
    """Frequency path then frame path on (B, N, K bands, T frames), each x + LN(F3A(MSA(x)))."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        n = cfg.channels
        self.band_msa, self.band_attention, self.band_norm = MSA(cfg), F3A(cfg), ChannelNorm(n)
        self.frame_msa, self.frame_attention, self.frame_norm = MSA(cfg), F3A(cfg), ChannelNorm(n)

    def forward(self, x: Tensor) -> Tensor:
        b, n, k, t = x.shape
        y = self.band_msa(x.permute(0, 3, 1, 2).reshape(b * t, n, k))  # (B T, N, K): along bands
        y = y.view(b, t, n, k).permute(0, 2, 3, 1)  # (B, N, K, T)
        x = x + self.band_norm(self.band_attention(y))  # tokens are bands
        y = self.frame_msa(x.permute(0, 2, 1, 3).reshape(b * k, n, t))  # (B K, N, T): along frames
        y = y.view(b, k, n, t).permute(0, 2, 3, 1)  # (B, N, T, K)
        y = self.frame_norm(self.frame_attention(y))  # tokens are frames
        return x + y.transpose(2, 3)  # (B, N, K, T)


class Separator(nn.Module):
    """One FFI block run ``n_repeats`` times with shared weights on (B, N, K, T)."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        n = cfg.channels
        self.n_repeats = cfg.n_repeats
        self.block = FFIBlock(cfg)
        self.refeed = nn.Sequential(nn.Conv2d(n, n, 1, groups=n), nn.PReLU())

    def forward(self, x: Tensor) -> Tensor:
        y = self.block(x)
        for _ in range(self.n_repeats - 1):
            y = self.block(self.refeed(x + y))
        return y


# --------------------------------------------------------------------------------------- model


class TIGER(Model):
    Config = Config

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.sample_rate = config.sample_rate
        self.n_sources = config.n_sources
        self.stft = STFT(config.n_fft, config.hop_length, backend=config.stft_backend)
        edges = band_edges(config.bands_hz, max_hz=config.sample_rate / 2)
        self.bands = BandSplit(edges, config.sample_rate, config.n_fft)
        n, s = config.channels, config.n_sources
        self.band_encoders = nn.ModuleList(
            nn.Sequential(group_norm(2 * w, config.norm_eps), nn.Conv1d(2 * w, n, 1)) for w in self.bands.widths
        )
        self.separator = Separator(config)
        # per band and source: (value, gate) x (real, imaginary) x width channels. Grouped by source
        # (each reads its own N / S channels) as published; in gcd(N, S) groups when S does not divide N.
        groups = math.gcd(n, s)
        self.mask_decoders = nn.ModuleList(
            nn.Sequential(nn.PReLU(), nn.Conv1d(n, s * 4 * w, 1, groups=groups)) for w in self.bands.widths
        )

    def masks(self, spec: Tensor) -> Tensor:
        """Mixture spectrum (B, 2, F, frames) as (real, imaginary) -> masks (B, S, 2, F, frames)."""
        b, _, _, t = spec.shape
        s = self.n_sources
        bands = self.bands.split(spec, dim=2)  # each (B, 2, width, frames)
        feats = [enc(band.reshape(b, -1, t)) for enc, band in zip(self.band_encoders, bands)]  # (B, N, frames)
        x = self.separator(torch.stack(feats, dim=2))  # (B, N, K, frames)
        masks = []
        for i, (dec, width) in enumerate(zip(self.mask_decoders, self.bands.widths)):
            m = dec(x[:, :, i]).view(b, s, 2, 2, width, t)  # (B, S, value/gate, re/im, width, frames)
            masks.append(m[:, :, 0] * torch.sigmoid(m[:, :, 1]))  # (B, S, 2, width, frames)
        masks = torch.cat(masks, dim=3)  # (B, S, 2, F, frames)
        # shift every source's mask by the same amount so that they sum to 1 + 0j over the sources
        total = masks.sum(1, keepdim=True)  # (B, 1, 2, F, frames)
        one = torch.tensor([1.0, 0.0], dtype=masks.dtype, device=masks.device).view(1, 1, 2, 1, 1)
        return masks - (total - one) / s

    def forward(self, mix: Tensor) -> Tensor:
        """Mixture (B, T) at ``sample_rate`` -> separated sources (B, n_sources, T)."""
        b, length = mix.shape
        spec = self.stft.stft(mix, return_complex=False).permute(0, 3, 1, 2)  # (B, 2, F, frames)
        masks = self.masks(spec)  # (B, S, 2, F, frames)
        re, im = spec[:, None, 0], spec[:, None, 1]  # (B, 1, F, frames)
        m_re, m_im = masks[:, :, 0], masks[:, :, 1]  # (B, S, F, frames)
        est = torch.stack([re * m_re - im * m_im, re * m_im + im * m_re], dim=-1)  # (B, S, F, frames, 2)
        wave = self.stft.istft(est.flatten(0, 1), length=length)  # (B S, T)
        return wave.view(b, self.n_sources, length)

    def example_inputs(self, seconds: float = 1.0) -> tuple[Tensor]:
        return (0.1 * torch.randn(1, math.floor(seconds * self.sample_rate)),)

    def onnx_io(self) -> dict:
        c = self.config
        return {
            "inputs": [port("mixture", f"mixture (batch, samples) at {c.sample_rate} Hz", batch=0, samples=1)],
            "outputs": [port("sources", f"separated sources (batch, {c.n_sources}, samples)", batch=0, samples=2)],
            "resize": {"seconds": 1.37},
            "sample_rate": c.sample_rate,
            "n_sources": c.n_sources,
            "preprocess": f"mono float32 at {c.sample_rate} Hz, no normalisation (the STFT is inside the graph)",
            "postprocess": "none: the sources come out as waveforms of the input's length, in no particular order",
        }


register("tiger-small", TIGER)
register("tiger-large", TIGER, n_repeats=8)
# A CPU configuration: the same architecture, narrower (32 channels, 64 inside the MSA) with 4
# scales and 2 passes; for tests, quick experiments and the CPU starter recipe.
register("tiger-tiny", TIGER, channels=32, msa_channels=64, msa_scales=4, n_repeats=2)

# For CPU training and inference: 32 ms Hann window and 16 ms hop (n_fft 512 / hop 256 at 16 kHz,
# 31.25 Hz bins); 1-bin bands up to 500 Hz as in the paper's low bands (where the harmonics of
# voices lie), wider ones above: 16 x 31.25 Hz, 4 x 125 Hz to 1 kHz, 4 x 250 Hz to 2 kHz,
# 4 x 500 Hz to 4 kHz, 4 x 1 kHz to 8 kHz and the Nyquist bin = 33 bands (67 in the paper);
# 24 channels, 48 inside the MSA, 4 scales, 2 passes of the shared block. 0.14 GMAC per second
# of audio in 8 s chunks against 0.84 for tiger-tiny (tests/test_tiger.py).
CPU_BANDS_HZ = ((500, 31.25), (1000, 125), (2000, 250), (4000, 500), (8000, 1000))
register(
    "tiger-cpu",
    TIGER,
    n_fft=512,
    hop_length=256,
    bands_hz=CPU_BANDS_HZ,
    channels=24,
    msa_channels=48,
    msa_scales=4,
    n_repeats=2,
)
