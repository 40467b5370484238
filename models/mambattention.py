"""MambAttention: speech enhancement with shared time/frequency attention and bidirectional Mamba.

Kühne et al. 2025 (official repository NikolaiKyhne/MambAttention), built on SEMamba and MP-SENet.
A noisy waveform becomes a compressed magnitude and a phase (STFT 400/100, Hann, mag**0.3); a
dense encoder halves the frequency axis (201 -> 100 bins); four blocks mix along time and along
frequency; a magnitude decoder predicts a bounded mask and a phase decoder predicts the clean phase
directly; the iSTFT returns the waveform.

Each block:  x + MHA(LN(x)) along time -> x + W_t BiMamba_t(x) -> x + MHA(LN(x)) along frequency
-> x + W_f BiMamba_f(x). One MHA and one LN are shared by the time and the frequency path of a
block; blocks share nothing. With ``attention=False`` this is SEMamba.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from tfsignal.frontends import STFT, enhance_magphase, magphase, polar
from tfsignal.nn import BiMamba, MultiHeadAttention

from .base import Model, port
from .registry import register


@dataclass
class Config:
    sample_rate: int = 16000
    n_fft: int = 400
    hop_length: int = 100
    win_length: int = 400
    compress_power: float = 0.3  # the network sees mag**0.3
    channels: int = 64  # width of the encoder, decoders and blocks
    n_blocks: int = 4
    dense_depth: int = 4  # dense layers per DenseBlock, time dilations 1, 2, 4, 8
    attention: bool = True  # False gives SEMamba
    heads: int = 8
    d_state: int = 16
    d_conv: int = 4
    expand: int = 4
    norm_eps: float = 1e-5
    mask_beta: float = 2.0  # learnable sigmoid bound: masks lie in (0, beta)
    # "direct": the phase decoder predicts the clean phase (the paper). "residual": it predicts a
    # rotation of the noisy phase, and both decoders start as the identity (mask 1, rotation 0), so
    # an untrained model passes its input through. Same parameters; used by the small CPU configs.
    phase: str = "direct"
    stft_backend: str = "fft"  # "conv" for ONNX export
    scan_backend: str = "auto"


# --------------------------------------------------------------------------- encoder / decoders


def conv_norm_act(conv: nn.Module, channels: int) -> nn.Sequential:
    """Conv -> InstanceNorm2d (affine) -> PReLU per channel, the unit of MP-SENet."""
    return nn.Sequential(conv, nn.InstanceNorm2d(channels, affine=True), nn.PReLU(channels))


class DenseBlock(nn.Module):
    """Densely connected 3x3 convolutions on (B, C, T, F); layer i dilates time by 2**i."""

    def __init__(self, channels: int, depth: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            conv_norm_act(
                nn.Conv2d(channels * (i + 1), channels, (3, 3), dilation=(2**i, 1), padding=(2**i, 1)), channels
            )
            for i in range(depth)
        )

    def forward(self, x: Tensor) -> Tensor:
        skip = x
        for layer in self.layers:
            x = layer(skip)
            skip = torch.cat([x, skip], dim=1)  # (B, C * (i + 2), T, F)
        return x


class Encoder(nn.Module):
    """(B, 2, T, F) magnitude and phase -> (B, C, T, F // 2)."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        c = cfg.channels
        self.inp = conv_norm_act(nn.Conv2d(2, c, (1, 1)), c)
        self.dense = DenseBlock(c, cfg.dense_depth)
        self.down = conv_norm_act(nn.Conv2d(c, c, (1, 3), stride=(1, 2)), c)  # 201 -> 100 bins

    def forward(self, x: Tensor) -> Tensor:
        return self.down(self.dense(self.inp(x)))


class LearnableSigmoid(nn.Module):
    """beta * sigmoid(slope_f * x) with one slope per frequency bin, on (B, F, T)."""

    def __init__(self, n_freq: int, beta: float) -> None:
        super().__init__()
        self.beta = beta
        self.slope = nn.Parameter(torch.ones(n_freq, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.beta * torch.sigmoid(self.slope * x)


class MaskDecoder(nn.Module):
    """(B, C, T, F // 2) -> magnitude mask (B, F, T) in (0, beta)."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        c = cfg.channels
        self.dense = DenseBlock(c, cfg.dense_depth)
        self.up = nn.ConvTranspose2d(c, c, (1, 3), stride=(1, 2))  # 100 -> 201 bins
        self.to_mask = nn.Sequential(conv_norm_act(nn.Conv2d(c, 1, (1, 1)), 1), nn.Conv2d(1, 1, (1, 1)))
        self.sigmoid = LearnableSigmoid(cfg.n_fft // 2 + 1, cfg.mask_beta)
        if cfg.phase == "residual":  # mask beta * sigmoid(0) = 1 (for beta = 2) until trained
            nn.init.zeros_(self.to_mask[-1].weight)
            nn.init.zeros_(self.to_mask[-1].bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.to_mask(self.up(self.dense(x)))  # (B, 1, T, F)
        return self.sigmoid(x[:, 0].transpose(1, 2))  # (B, F, T)


class PhaseDecoder(nn.Module):
    """(B, C, T, F // 2) -> phase (B, F, T) as atan2 of two predicted components.

    With ``cfg.phase == "residual"`` the result is a rotation to add to the noisy phase, initialised
    to zero (real part 1, imaginary part 0).
    """

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        c = cfg.channels
        self.dense = DenseBlock(c, cfg.dense_depth)
        self.up = conv_norm_act(nn.ConvTranspose2d(c, c, (1, 3), stride=(1, 2)), c)
        self.real = nn.Conv2d(c, 1, (1, 1))
        self.imag = nn.Conv2d(c, 1, (1, 1))
        if cfg.phase == "residual":
            for conv, bias in ((self.real, 1.0), (self.imag, 0.0)):
                nn.init.zeros_(conv.weight)
                nn.init.constant_(conv.bias, bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.up(self.dense(x))  # (B, C, T, F)
        return torch.atan2(self.imag(x), self.real(x))[:, 0].transpose(1, 2)  # (B, F, T)


# --------------------------------------------------------------------------------------- blocks


class TFBlock(nn.Module):
    """Shared-attention time and frequency mixing on (B, C, T, F')."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        c = cfg.channels
        mamba = dict(d_state=cfg.d_state, d_conv=cfg.d_conv, expand=cfg.expand, norm_eps=cfg.norm_eps)
        mamba["scan_backend"] = cfg.scan_backend
        if cfg.attention:  # one LN + MHA for both paths
            self.norm = nn.LayerNorm(c)
            self.attn = MultiHeadAttention(c, cfg.heads)
        else:
            self.norm = self.attn = None
        self.time_mamba = BiMamba(c, **mamba)
        self.freq_mamba = BiMamba(c, **mamba)
        # 1x1 ConvTranspose1d(2C -> C) in the original; a Linear is the same map with the same parameters.
        self.time_out = nn.Linear(2 * c, c)
        self.freq_out = nn.Linear(2 * c, c)

    def _mix(self, x: Tensor, mamba: BiMamba, out: nn.Linear) -> Tensor:
        """x (N, L, C): attention then Mamba along L, each with a residual."""
        if self.attn is not None:
            x = x + self.attn(self.norm(x))
        return x + out(mamba(x))

    def forward(self, x: Tensor) -> Tensor:
        b, c, t, f = x.shape
        x = x.permute(0, 3, 2, 1).reshape(b * f, t, c)  # (B F', T, C): sequences along time
        x = self._mix(x, self.time_mamba, self.time_out)
        x = x.view(b, f, t, c).transpose(1, 2).reshape(b * t, f, c)  # (B T, F', C): along frequency
        x = self._mix(x, self.freq_mamba, self.freq_out)
        return x.view(b, t, f, c).permute(0, 3, 1, 2)  # (B, C, T, F')


# ---------------------------------------------------------------------------------------- model


class MambAttention(Model):
    Config = Config

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        if config.phase not in ("direct", "residual"):
            raise ValueError(f"phase must be 'direct' or 'residual', got {config.phase!r}")
        if config.phase == "residual" and config.mask_beta != 2.0:
            raise ValueError("phase='residual' starts from mask 1 = beta * sigmoid(0), so it needs mask_beta=2")
        self.sample_rate = config.sample_rate
        self.stft = STFT(config.n_fft, config.hop_length, config.win_length, backend=config.stft_backend)
        self.encoder = Encoder(config)
        self.blocks = nn.ModuleList(TFBlock(config) for _ in range(config.n_blocks))
        self.mask_decoder = MaskDecoder(config)
        self.phase_decoder = PhaseDecoder(config)

    def forward(self, mag: Tensor, phase: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Compressed magnitude and phase (B, F, T) -> enhanced (magnitude, phase, complex (B, F, T, 2)).

        All three outputs are in the compressed domain, as the losses compare them there.
        """
        x = torch.stack([mag, phase], dim=1).transpose(2, 3)  # (B, 2, T, F)
        x = self.encoder(x)  # (B, C, T, F // 2)
        for block in self.blocks:
            x = block(x)
        mag = self.mask_decoder(x) * mag  # (B, F, T)
        if self.config.phase == "residual":  # rotate the noisy phase, wrapped back into (-pi, pi]
            phase = phase + self.phase_decoder(x)
            phase = torch.atan2(torch.sin(phase), torch.cos(phase))
        else:
            phase = self.phase_decoder(x)  # (B, F, T)
        return mag, phase, torch.stack([mag * torch.cos(phase), mag * torch.sin(phase)], dim=-1)

    def analyse(self, wave: Tensor) -> tuple[Tensor, Tensor]:
        """(B, time) -> compressed magnitude and phase (B, F, T)."""
        return magphase(self.stft.stft(wave), power=self.config.compress_power)

    def synthesise(self, mag: Tensor, phase: Tensor, length: int) -> Tensor:
        """Compressed magnitude and phase (B, F, T) -> waveform (B, length)."""
        return self.stft.istft(polar(mag, phase, power=self.config.compress_power), length=length)

    @torch.no_grad()
    def enhance(self, wave: Tensor) -> Tensor:
        """Noisy waveform (..., time) at ``sample_rate`` -> enhanced waveform of the same shape.

        The input is scaled to unit RMS inside (as in training) and the output scaled back. Inputs
        shorter than the window are zero-padded to it (the centred STFT needs that much) and the
        output cut back. Runs without autograd.
        """
        return enhance_magphase(wave, self.stft, self.config.compress_power, lambda mag, phase: self(mag, phase)[:2])

    def example_inputs(self, seconds: float = 1.0) -> tuple[Tensor, Tensor]:
        frames = math.floor(seconds * self.sample_rate / self.config.hop_length) + 1
        bins = self.config.n_fft // 2 + 1
        return torch.rand(1, bins, frames), (torch.rand(1, bins, frames) * 2 - 1) * math.pi

    def onnx_io(self) -> dict:
        c = self.config
        spectra = "(batch, n_fft / 2 + 1, frames)"
        return {
            "inputs": [
                port("magnitude", f"compressed noisy magnitude |X| ** {c.compress_power} {spectra}", batch=0, frames=2),
                port("phase", f"noisy phase angle(X) in radians {spectra}", batch=0, frames=2),
            ],
            "outputs": [
                port("enhanced_magnitude", f"compressed enhanced magnitude {spectra}", batch=0, frames=2),
                port("enhanced_phase", f"enhanced phase {spectra}", batch=0, frames=2),
                port(
                    "enhanced_complex",
                    "the two as (real, imaginary) pairs (..., 2), still compressed",
                    batch=0,
                    frames=2,
                ),
            ],
            "resize": {"seconds": 1.37},
            "sample_rate": c.sample_rate,
            "n_fft": c.n_fft,
            "hop_length": c.hop_length,
            "win_length": c.win_length,
            "compress_power": c.compress_power,
            "preprocess": f"mono float32 at {c.sample_rate} Hz; divide by the RMS of the whole input (keep it); "
            f"STFT with a periodic Hann window of {c.win_length} samples, n_fft {c.n_fft}, hop {c.hop_length}, "
            f"centred (the signal reflect-padded by {c.n_fft // 2} samples at both ends); magnitude ** "
            f"{c.compress_power} and phase of each bin",
            "postprocess": f"X = enhanced_magnitude ** {1 / c.compress_power:g} * exp(i enhanced_phase); inverse STFT "
            "with the same window (overlap-add, centred, trimmed to the input length); multiply by the RMS",
        }


register("mambattention", MambAttention)
register("semamba", MambAttention, attention=False)
# Smaller configurations for CPU and edge use: the same architecture with fewer channels, blocks,
# heads, Mamba expansion and state size. "tiny" is what a 2-core CPU can train in an hour and run
# several times faster than real time (benchmarks/enhance.py).
# They predict the phase as a rotation of the noisy one (Config.phase), so that a short CPU training
# run starts from the identity instead of from noise.
register("mambattention-small", MambAttention, channels=32, n_blocks=2, heads=4, expand=2, phase="residual")
register(
    "mambattention-tiny",
    MambAttention,
    channels=16,
    n_blocks=2,
    heads=2,
    expand=1,
    d_state=8,
    dense_depth=3,
    phase="residual",
)
