"""MPTSNet: multiscale periodic local patterns plus global dependencies, for multivariate classification.

Mu et al., AAAI 2025 (official repository MUYang99/MPTSNet). The dominant periods of the training
set come from the FFT periodicity front end once, before training, and are stored in the config, so
inference and ONNX export never recompute them.

    series (B, T, C) -> circular Conv1d embedding + sinusoidal position -> (B, E, T)
    2 x PeriodicBlock, each followed by one LayerNorm shared by both blocks:
        global branch: 1-layer transformer over the T time steps with a CLS token
        per period p: fold into n segments of p steps -> shared inception + CBAM extractor on every
                      segment (+ residual) -> each segment is one token of E*p values -> 1-layer
                      transformer with a CLS token across the segments -> unfold
        out = sum_p softmax(amplitude at p)_p * branch_p + global + x
    GELU -> dropout -> flatten (E * T) -> linear -> class logits
        (head="mean": the mean over the unpadded steps (E) -> linear, a departure that forgets where
        in the window a pattern sits; the README's time-series section measures it)

Variable-length series are zero-padded to ``seq_len`` and come with a padding mask (B, T), True
where a step is padding: padded steps and fully padded segments are masked out of every attention
and zeroed after every block.

Departure from the reference code: it folds with ``reshape(B, E, p, n)``, which puts every n-th
sample into one "segment"; here a segment is p consecutive samples (``tfsignal.frontends.fold``),
as the paper describes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tfsignal.frontends import fold, top_k_periods, unfold
from tfsignal.nn import MultiHeadAttention

from .base import Model, port
from .registry import register


@dataclass
class Config:
    n_channels: int = 1
    seq_len: int = 128
    n_classes: int = 2
    periods: list[int] = field(default_factory=lambda: [16])  # from top_k_periods on the training set
    embed_dim: int = 0  # 0: clip(4 * n_channels, 64, 256), as published
    window_dim: int = 0  # width of the segment transformers; 0: clip(4 * embed_dim, 256, 512)
    heads: int = 4
    ff_dim: int = 256
    n_layers: int = 1  # transformer layers per branch
    n_blocks: int = 2
    cnn_hidden: int = 1024  # width inside the inception extractor (published: 1024)
    n_kernels: int = 6  # inception kernel sizes 1, 3, ..., 2 * n_kernels - 1, averaged
    cbam_reduction: int = 16
    cbam_kernel: int = 7
    dropout: float = 0.1
    head: str = "flatten"  # "flatten" (published: all E * T features, positions kept) or "mean" (over time)

    def __post_init__(self) -> None:
        if not self.embed_dim:
            self.embed_dim = min(max(4 * self.n_channels, 64), 256)
        if not self.window_dim:
            self.window_dim = min(max(4 * self.embed_dim, 256), 512)
        if self.head not in ("flatten", "mean"):
            raise ValueError(f"head must be 'flatten' or 'mean', got {self.head!r}")
        self.periods = [int(p) for p in self.periods]
        if not self.periods or min(self.periods) < 1:
            raise ValueError(f"periods must be positive integers, got {self.periods}")


def sinusoids(length: int, dim: int) -> Tensor:
    """(length, dim) sine/cosine position code of "Attention is all you need"."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    code = torch.zeros(length, dim)
    code[:, 0::2] = torch.sin(position * freq)
    code[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return code


# ------------------------------------------------------------------------------ local extractor


class CBAM(nn.Module):
    """Channel then spatial (here: temporal) attention on (N, C, L) (Woo et al. 2018, 1-D)."""

    def __init__(self, channels: int, reduction: int, kernel: int) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.channel_mlp = nn.Sequential(
            nn.Conv1d(channels, hidden, 1, bias=False), nn.ReLU(), nn.Conv1d(hidden, channels, 1, bias=False)
        )
        self.spatial = nn.Conv1d(2, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        avg, peak = x.mean(-1, keepdim=True), x.amax(-1, keepdim=True)  # (N, C, 1)
        x = x * torch.sigmoid(self.channel_mlp(avg) + self.channel_mlp(peak))
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)  # (N, 2, L)
        return x * torch.sigmoid(self.spatial(pooled))


class InceptionCBAM(nn.Module):
    """Mean of Conv1d with kernels 1, 3, ..., 2k - 1 ('same' padding), then CBAM: (N, C_in, L) -> (N, C_out, L)."""

    def __init__(self, c_in: int, c_out: int, cfg: Config) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(c_in, c_out, 2 * i + 1, padding=i) for i in range(cfg.n_kernels))
        for conv in self.convs:
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        self.cbam = CBAM(c_out, cfg.cbam_reduction, cfg.cbam_kernel)

    def forward(self, x: Tensor) -> Tensor:
        # The mean of the centred convolutions is one convolution with the mean of the kernels,
        # zero-padded to the longest: the same function in one call and 36 / 11 fewer MACs.
        widest = len(self.convs) - 1
        weight = torch.stack([F.pad(c.weight, (widest - i, widest - i)) for i, c in enumerate(self.convs)]).mean(0)
        bias = torch.stack([c.bias for c in self.convs]).mean(0)
        return self.cbam(F.conv1d(x, weight, bias, padding=widest))  # (N, C_out, L)

    def forward_reference(self, x: Tensor) -> Tensor:
        """The published form, one convolution per kernel size (tests check ``forward`` against it)."""
        return self.cbam(torch.stack([conv(x) for conv in self.convs]).mean(0))


# -------------------------------------------------------------------------------- transformers


class TransformerLayer(nn.Module):
    """Post-norm encoder layer: LN(x + MHA(x)) -> LN(x + FFN(x)), ReLU FFN."""

    def __init__(self, dim: int, heads: int, ff_dim: int) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(dim, heads)
        self.ffn = nn.Sequential(nn.Linear(dim, ff_dim), nn.ReLU(), nn.Linear(ff_dim, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        x = self.norm1(x + self.attn(x, key_padding_mask=key_padding_mask))
        return self.norm2(x + self.ffn(x))


class CLSTransformer(nn.Module):
    """Tokens (B, N, d_in) -> (B, N, d_in): a CLS token is prepended, and each output token is a linear
    map of [its transformed self, the transformed CLS]. With ``d_model != d_in`` the tokens are
    projected in first (the segment transformers); the global one works at d_in directly."""

    def __init__(self, d_in: int, d_model: int, max_tokens: int, cfg: Config) -> None:
        super().__init__()
        self.proj = nn.Linear(d_in, d_model) if d_model != d_in else nn.Identity()
        self.cls = nn.Parameter(torch.randn(1, 1, d_model))
        self.register_buffer("position", sinusoids(max_tokens + 1, d_model), persistent=False)
        self.layers = nn.ModuleList(TransformerLayer(d_model, cfg.heads, cfg.ff_dim) for _ in range(cfg.n_layers))
        self.out = nn.Linear(2 * d_model, d_in)

    def forward(self, x: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        b, n, _ = x.shape
        x = torch.cat([self.cls.expand(b, -1, -1), self.proj(x)], dim=1)  # (B, N + 1, d_model)
        x = x + self.position[: n + 1]
        if padding_mask is not None:  # the CLS token is never padding
            padding_mask = F.pad(padding_mask, (1, 0), value=False)
        for layer in self.layers:
            x = layer(x, key_padding_mask=padding_mask)
        tokens, cls = x[:, 1:], x[:, :1].expand(-1, n, -1)
        return self.out(torch.cat([tokens, cls], dim=-1))  # (B, N, d_in)


# --------------------------------------------------------------------------------------- block


class PeriodicBlock(nn.Module):
    """(B, E, T) -> (B, E, T): amplitude-weighted period branches + global branch + residual."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        e = cfg.embed_dim
        self.periods = cfg.periods
        self.local = nn.Sequential(
            InceptionCBAM(e, cfg.cnn_hidden, cfg), nn.GELU(), InceptionCBAM(cfg.cnn_hidden, e, cfg)
        )
        self.global_branch = CLSTransformer(e, e, cfg.seq_len, cfg)
        self.segment_branches = nn.ModuleList(
            CLSTransformer(e * p, cfg.window_dim, -(-cfg.seq_len // p), cfg) for p in cfg.periods
        )

    def amplitudes(self, x: Tensor) -> Tensor:
        """(B, E, T) -> (B, k): each sample's FFT amplitude, averaged over channels, at each period."""
        length = x.shape[-1]
        spectrum = torch.fft.rfft(x.detach().mean(1), dim=-1).abs() * (2.0 / length)  # (B, T // 2 + 1)
        bins = [min(max(round(length / p), 0), spectrum.shape[-1] - 1) for p in self.periods]
        return spectrum[:, bins]

    def forward(self, x: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        b, e, t = x.shape
        global_out = self.global_branch(x.transpose(1, 2), padding_mask).transpose(1, 2)  # (B, E, T)
        branches = []
        for p, branch in zip(self.periods, self.segment_branches):
            segments = fold(x.transpose(1, 2), p)  # (B, E, n, p)
            n = segments.shape[2]
            flat = segments.permute(0, 2, 1, 3).reshape(b * n, e, p)  # every segment on its own
            local = (flat + self.local(flat)).reshape(b, n, e * p)  # (B, n, E p): one token per segment
            segment_mask = None
            if padding_mask is not None:  # a segment is padding when all its steps are
                segment_mask = F.pad(padding_mask, (0, n * p - t), value=True).view(b, n, p).all(-1)
            out = branch(local, segment_mask).view(b, n, e, p).permute(0, 2, 1, 3)  # (B, E, n, p)
            branches.append(unfold(out, t).transpose(1, 2))  # (B, E, T)
        weights = torch.softmax(self.amplitudes(x), dim=-1)  # (B, k)
        periodic = torch.einsum("bket,bk->bet", torch.stack(branches, dim=1), weights)
        return periodic + global_out + x


# ---------------------------------------------------------------------------------------- model


class MPTSNet(Model):
    Config = Config

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        cfg = config
        e = cfg.embed_dim
        self.embed = nn.Conv1d(cfg.n_channels, e, 3, padding=1, padding_mode="circular", bias=False)
        nn.init.kaiming_normal_(self.embed.weight, mode="fan_in", nonlinearity="leaky_relu")
        self.register_buffer("position", sinusoids(cfg.seq_len, e).T, persistent=False)  # (E, T)
        self.blocks = nn.ModuleList(PeriodicBlock(cfg) for _ in range(cfg.n_blocks))
        self.norm = nn.LayerNorm(e)  # one LayerNorm after every block, as published
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(e * cfg.seq_len if cfg.head == "flatten" else e, cfg.n_classes)

    def forward(self, x: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        """Series (B, T, C), padding mask (B, T) True at padded steps -> class logits (B, n_classes)."""
        cfg = self.config
        if x.dim() != 3 or x.shape[1:] != (cfg.seq_len, cfg.n_channels):
            raise ValueError(f"expected series of shape (batch, {cfg.seq_len}, {cfg.n_channels}), got {tuple(x.shape)}")
        keep = None if padding_mask is None else (~padding_mask)[:, None, :].to(x.dtype)  # (B, 1, T)
        if keep is not None:
            x = x * keep.transpose(1, 2)
        x = self.dropout(self.embed(x.transpose(1, 2)) + self.position)  # (B, E, T)
        for block in self.blocks:
            x = self.norm(block(x, padding_mask).transpose(1, 2)).transpose(1, 2)  # (B, E, T)
            if keep is not None:
                x = x * keep
        x = self.dropout(F.gelu(x))
        if cfg.head == "flatten":
            return self.head(x.flatten(1))  # (B, n_classes)
        steps = torch.full_like(x[:, :1, 0], cfg.seq_len) if keep is None else keep.sum(-1)  # (B, 1)
        return self.head(x.sum(-1) / steps.clamp(min=1))  # mean over the real steps -> (B, n_classes)

    def example_inputs(self, batch: int = 2) -> tuple[Tensor]:
        return (torch.randn(batch, self.config.seq_len, self.config.n_channels),)

    def onnx_io(self) -> dict:
        c = self.config
        return {
            "inputs": [port("series", f"series (batch, {c.seq_len}, {c.n_channels})", batch=0)],
            "outputs": [port("logits", f"class logits (batch, {c.n_classes})", batch=0)],
            "resize": {"batch": 3},
            "preprocess": "standardise each channel as the classifier did in fit; shorter series are zero-padded "
            f"at the end to {c.seq_len} steps (the graph takes no padding mask)",
            "postprocess": "argmax over the classes (softmax for probabilities)",
        }


def periods_for(train: Tensor, k: int = 5) -> list[int]:
    """The k dominant periods of a training set (N, T, C), to store in ``Config.periods``."""
    periods, _ = top_k_periods(train, k)
    return periods


register("mptsnet", MPTSNet)
# CPU default: the same network, narrower where the published one spends its weights and time (the
# inception extractor 1024 -> 64 channels, the segment transformers 256 -> 128 wide); the README's
# time-series table gives what each costs and scores.
register("mptsnet-cpu", MPTSNet, cnn_hidden=64, window_dim=128)
