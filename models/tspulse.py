"""TSPulse: a ~1 M-parameter dual-space (time + frequency) masked-reconstruction model for time series.

Ekambaram et al., IBM Research 2025 (arXiv 2505.13033; reference code: granite-tsfm,
``tsfm_public/models/tspulse``). A TSMixer-style all-MLP backbone, pre-trained by masked
reconstruction, serves imputation, anomaly scoring, embedding retrieval and, fine-tuned with the
TSLens head, classification.

    series (B, T, C) + missing points (masked or padding)
    -> context: T rounded up to whole patches, L = N * patch_len; the extra steps go in front, missing
    -> RevIN on the observed points (loc, scale per series and channel); missing points become a
       learnable mask token (one value per position inside a patch); shared affine w * z + b   (B, L, C)
    -> rFFT of that masked, scaled series, last bin dropped, real and imaginary parts each divided by
       their max |.| over frequency and concatenated: L values again                           (B, L, C)
    -> both cut into N patches and embedded by their own Linear(patch_len, d), then R learnable
       register tokens                                                                (B, C, 2N + R, d)
    -> LayerNorm over the flattened (2N + R) * d -> encoder (n_layers) -> decoder (n_decoder_layers)
       mixer layer = [channel mixer] -> patch mixer (MLP across the 2N + R tokens) -> feature mixer
       (MLP across d); each pre-LayerNorm, gated attention x * softmax(Linear(x)), residual
    -> heads on the decoder output                                                    (B, C, 2N + R, d)
         time      first N tokens  -> Linear(d, patch_len) -> series                          (B, L, C)
         FFT       next N tokens   -> Linear(d, patch_len) -> spectrum features               (B, L, C)
                   (x max |.|, last bin restored, irFFT -> a second series)
         FFT-prob  R registers -> register mixers -> LayerNorm -> Linear -> softmax over L/2 bins
                   (target: softmax of log(1 + |rFFT|) of the clean series, DC dropped)  (B, L/2, C)
         forecast  R registers -> register mixers -> LayerNorm -> Linear -> next steps   (B, horizon, C)
         TSLens    (n_classes > 0) gated attention across all 2N + R tokens -> Linear(d, head_dim) ->
                   flatten, with the RevIN loc / scale -> LayerNorm -> GELU -> Linear   (B, n_classes)

The register tokens of the decoder are the semantic embedding (C * R * d values per series), the 2N
patch tokens the detailed one (C * 2N * d).

Context length. The published model reads 512 steps in patches of 8. Here the context is
``seq_len``: when it is not a multiple of ``patch_len`` the model prepends the missing steps itself
(they are treated as missing points, like padding), so any seq_len works; at seq_len = 512 nothing is
added. Padding from the caller (``padding_mask``, True at padded steps) is treated the same way:
replaced by the mask token and left out of the RevIN statistics, so padded values cannot change any
output.

Pre-training (``pretrain_loss``): a hybrid mask (random points plus two whole patches) or a block
mask (whole patches) hides ``mask_ratio`` of the context; the loss sums the masked time
reconstruction, the FFT reconstruction, the masked series recovered from the FFT head, the
FFT-probability cross-entropy and the forecast of the window's last ``horizon`` steps.

Departures from the reference code: losses are computed on RevIN-standardised values (errors divided
by the series' scale) rather than raw units; the forecast target is the last ``horizon`` steps of the
training window itself (the model sees the window shifted right by ``horizon``, the shift counted as
padding), so no separate future values are needed; TSLens applies its gated attention in the head,
across the tokens, rather than through the decoder's gates only; masks are always the same for every
channel of a series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Model, port
from .registry import register

MASK_TYPES = ("hybrid", "block")


@dataclass
class Config:
    n_channels: int = 1
    seq_len: int = 512  # the context (published: 512); see "Context length" above
    n_classes: int = 0  # 0: no TSLens classification head (the pre-trained model has none)
    periods: list[int] = field(default_factory=list)  # unused; accepted for the generic classifier wrapper
    patch_len: int = 8  # published: 8 (imputation, anomaly detection, search) or 16 (classification)
    d_model: int = 24  # width of encoder, decoder and registers (published: 24)
    expansion: int = 2  # hidden width of every mixer MLP = expansion * input width
    n_layers: int = 8  # encoder mixer layers; encoder + decoder = 10 in the released weights (split assumed)
    n_decoder_layers: int = 2
    n_registers: int = 8  # register tokens (the released search checkpoint has 10)
    register_layers: int = 3  # mixer layers over the registers inside the FFT-prob and forecast heads
    horizon: int = 16  # forecast head length; 0 removes the head
    channel_mixing: bool = False  # encoder channel mixer; pre-training is per channel (published: off)
    decoder_channel_mixing: bool = False  # decoder channel mixer; the reference turns it on to fine-tune
    dropout: float = 0.2  # inside the encoder's MLPs
    head_dropout: float = 0.2  # inside the decoder, register mixers and heads
    gate: str = "softmax"  # gated-attention activation in the mixers: "softmax" or "sigmoid"
    head_gate: str = "softmax"  # TSLens gated attention across the tokens
    head_dim: int = 2  # TSLens reduces each token from d_model to this many features
    mask_type: str = "hybrid"  # pre-training mask: "hybrid" (points + whole patches) or "block"
    mask_ratio: float = 0.3  # share of the context hidden in pre-training (reference fine-tuning configs: 0.3)
    hybrid_full_patches: int = 2  # whole patches inside a hybrid mask
    min_scale: float = 1e-3  # RevIN variance floor and FFT max |.| offset
    fft_weight: float = 1.0
    fft_series_weight: float = 1.0  # masked series recovered from the FFT head
    fft_prob_weight: float = 1.0
    forecast_weight: float = 1.0

    def __post_init__(self) -> None:
        self.periods = [int(p) for p in self.periods]
        if self.patch_len < 2 or self.patch_len % 2:
            raise ValueError(
                f"patch_len must be an even number >= 2 (the rFFT needs an even context), got {self.patch_len}"
            )
        if self.seq_len < 1 or self.n_channels < 1 or self.n_classes < 0 or self.horizon < 0:
            raise ValueError("seq_len and n_channels must be positive, n_classes and horizon non-negative")
        if self.gate not in ("softmax", "sigmoid") or self.head_gate not in ("softmax", "sigmoid"):
            raise ValueError(
                f"gate and head_gate must be 'softmax' or 'sigmoid', got {self.gate!r}, {self.head_gate!r}"
            )
        check_mask(self.mask_type, self.mask_ratio)


def check_mask(mask_type: str, mask_ratio: float) -> None:
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be one of {MASK_TYPES}, got {mask_type!r}")
    if not 0.0 < mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must lie in (0, 1), got {mask_ratio}")


# ------------------------------------------------------------------------------ functional core


def revin_stats(x: Tensor, observed: Tensor, min_scale: float) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation of the observed points: x, observed (B, L, C) -> loc, scale (B, 1, C)."""
    weight = observed.to(x.dtype)
    count = weight.sum(1, keepdim=True).clamp_min(1.0)
    loc = (x * weight).sum(1, keepdim=True) / count
    variance = (((x - loc) * weight) ** 2).sum(1, keepdim=True) / count
    return loc, variance.clamp_min(min_scale).sqrt()


def spectrum_features(z: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(B, L, C) series -> (B, L, C) features [real / max|real|, imag / max|imag|] of its rFFT without
    the last bin, plus what inverting them needs: that bin (B, 1, C) and the two maxima (B, 1, C)."""
    spectrum = torch.fft.rfft(z, dim=1)  # (B, L/2 + 1, C)
    last, spectrum = spectrum[:, -1:], spectrum[:, :-1]
    real_max = spectrum.real.abs().amax(1, keepdim=True) + eps
    imag_max = spectrum.imag.abs().amax(1, keepdim=True) + eps
    return torch.cat([spectrum.real / real_max, spectrum.imag / imag_max], dim=1), last, real_max, imag_max


def features_to_series(features: Tensor, last: Tensor, real_max: Tensor, imag_max: Tensor) -> Tensor:
    """Inverse of ``spectrum_features``: (B, L, C) features -> (B, L, C) series."""
    half = features.shape[1] // 2
    spectrum = torch.complex(features[:, :half] * real_max, features[:, half:] * imag_max)
    return torch.fft.irfft(torch.cat([spectrum, last], dim=1), n=2 * half, dim=1)


def spectrum_probs(z: Tensor) -> Tensor:
    """(B, L, C) -> (B, L/2, C): softmax over frequency of log(1 + |rFFT|), DC dropped."""
    return torch.log1p(torch.fft.rfft(z, dim=1)[:, 1:].abs()).softmax(dim=1)


def patchify(x: Tensor, patch_len: int) -> Tensor:
    """(B, L, C) -> (B, C, N, patch_len)."""
    b, length, c = x.shape
    return x.transpose(1, 2).reshape(b, c, length // patch_len, patch_len)


def unpatchify(x: Tensor) -> Tensor:
    """(B, C, N, patch_len) -> (B, N * patch_len, C)."""
    b, c, n, p = x.shape
    return x.reshape(b, c, n * p).transpose(1, 2)


def block_mask(batch: int, n_patches: int, patch_len: int, ratio: float, generator=None) -> Tensor:
    """(batch, n_patches * patch_len) bool: int(n_patches * ratio) whole patches per series, True = hidden."""
    order = torch.rand(batch, n_patches, generator=generator).argsort(dim=1)
    hidden = order < int(n_patches * ratio)  # a random set of patches
    return hidden.repeat_interleave(patch_len, dim=1)


def hybrid_mask(batch: int, n_patches: int, patch_len: int, ratio: float, full_patches: int, generator=None) -> Tensor:
    """(batch, L) bool: int(L * ratio) hidden points per series, ``full_patches`` whole patches among them
    (none when they alone would exceed the budget) and the rest scattered at random."""
    length = n_patches * patch_len
    total = int(length * ratio)
    if full_patches * patch_len > total:
        full_patches = 0
    hidden = block_mask(batch, n_patches, patch_len, full_patches / n_patches, generator)
    scores = torch.rand(batch, length, generator=generator).masked_fill(hidden, math.inf)
    picks = scores.argsort(dim=1)[:, : total - full_patches * patch_len]  # points outside those patches
    return hidden.scatter(1, picks, True)


# ------------------------------------------------------------------------------- mixer blocks


class Gate(nn.Module):
    """Gated attention of TSMixer: x * act(Linear(x)) over the last axis, act = softmax or sigmoid."""

    def __init__(self, dim: int, activation: str) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.softmax = activation == "softmax"

    def forward(self, x: Tensor) -> Tensor:
        weights = self.proj(x)
        return x * (weights.softmax(dim=-1) if self.softmax else torch.sigmoid(weights))


class MLP(nn.Module):
    """Linear -> GELU -> dropout -> Linear -> dropout over the last axis."""

    def __init__(self, dim_in: int, dim_out: int, expansion: int, dropout: float) -> None:
        super().__init__()
        hidden = dim_in * expansion
        self.net = nn.Sequential(
            nn.Linear(dim_in, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim_out), nn.Dropout(dropout)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MixerLayer(nn.Module):
    """(B, C, P, d) -> (B, C, P, d): [channel mixer] -> patch (token) mixer -> feature mixer, each
    x + Gate(MLP(LayerNorm(x))) along its axis; the channel mixer gates first and starts as identity."""

    def __init__(self, n_tokens: int, cfg: Config, mix_channels: bool, dropout: float) -> None:
        super().__init__()
        d, n_channels = cfg.d_model, cfg.n_channels
        self.channel_norm = nn.LayerNorm(d) if mix_channels else None
        if mix_channels:
            self.channel_gate = Gate(n_channels, cfg.gate)
            self.channel_mlp = MLP(n_channels, n_channels, 1, dropout)
            nn.init.zeros_(self.channel_mlp.net[3].weight)  # the residual alone until trained
            nn.init.zeros_(self.channel_mlp.net[3].bias)
        self.token_norm = nn.LayerNorm(d)
        self.token_mlp = MLP(n_tokens, n_tokens, cfg.expansion, dropout)
        self.token_gate = Gate(n_tokens, cfg.gate)
        self.feature_norm = nn.LayerNorm(d)
        self.feature_mlp = MLP(d, d, cfg.expansion, dropout)
        self.feature_gate = Gate(d, cfg.gate)

    def forward(self, x: Tensor) -> Tensor:
        if self.channel_norm is not None:
            y = self.channel_norm(x).permute(0, 3, 2, 1)  # (B, d, P, C)
            x = x + self.channel_mlp(self.channel_gate(y)).permute(0, 3, 2, 1)
        y = self.token_norm(x).transpose(2, 3)  # (B, C, d, P)
        x = x + self.token_gate(self.token_mlp(y)).transpose(2, 3)
        return x + self.feature_gate(self.feature_mlp(self.feature_norm(x)))  # (B, C, P, d)


def mixer_stack(n_layers: int, n_tokens: int, cfg: Config, mix_channels: bool, dropout: float) -> nn.Sequential:
    return nn.Sequential(*(MixerLayer(n_tokens, cfg, mix_channels, dropout) for _ in range(n_layers)))


class RegisterHead(nn.Module):
    """Registers (B, C, R, d) -> register mixers -> flatten -> LayerNorm -> Linear -> (B, C, out)."""

    def __init__(self, cfg: Config, out: int) -> None:
        super().__init__()
        width = cfg.n_registers * cfg.d_model
        self.mixers = mixer_stack(
            cfg.register_layers, cfg.n_registers, cfg, cfg.decoder_channel_mixing, cfg.head_dropout
        )
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, out)

    def forward(self, registers: Tensor) -> Tensor:
        return self.proj(self.norm(self.mixers(registers).flatten(2)))


class TSLens(nn.Module):
    """Classification head on the full decoder embedding (B, C, P, d) and RevIN loc / scale (B, 1, C):
    gated attention across the P tokens (per feature) -> Linear(d, head_dim) -> flatten with a
    Linear of [loc, scale] -> LayerNorm -> dropout -> GELU -> Linear -> (B, n_classes)."""

    def __init__(self, n_tokens: int, cfg: Config) -> None:
        super().__init__()
        c = cfg.n_channels
        width = c * n_tokens * cfg.head_dim + 2 * c
        self.token_gate = Gate(n_tokens, cfg.head_gate)
        self.reduce = nn.Linear(cfg.d_model, cfg.head_dim)
        self.stats = nn.Linear(2 * c, 2 * c)
        self.norm = nn.LayerNorm(width)
        self.dropout = nn.Dropout(cfg.head_dropout)
        self.out = nn.Linear(width, cfg.n_classes)

    def forward(self, tokens: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
        tokens = self.token_gate(tokens.transpose(2, 3)).transpose(2, 3)  # (B, C, P, d)
        features = self.reduce(tokens).flatten(1)  # (B, C * P * head_dim)
        stats = self.stats(torch.cat([loc, scale], dim=1).flatten(1))  # (B, 2C)
        z = self.norm(torch.cat([features, stats], dim=-1))
        return self.out(F.gelu(self.dropout(z)))


@dataclass
class Encoded:
    """The decoder output and what the heads need to map back to the data's units."""

    tokens: Tensor  # (B, C, 2N + R, d)
    loc: Tensor  # (B, 1, C)
    scale: Tensor  # (B, 1, C)
    last_bin: Tensor  # (B, 1, C) complex: the rFFT bin left out of the input features
    real_max: Tensor  # (B, 1, C)
    imag_max: Tensor  # (B, 1, C)


# ---------------------------------------------------------------------------------------- model


class TSPulse(Model):
    Config = Config

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        cfg = config
        p, d = cfg.patch_len, cfg.d_model
        self.n_patches = -(-cfg.seq_len // p)
        self.context_len = self.n_patches * p  # L
        self.n_tokens = 2 * self.n_patches + cfg.n_registers  # P
        self.mask_token = nn.Parameter(torch.randn(p))  # one value per position inside a patch
        self.revin_weight = nn.Parameter(torch.ones(1))
        self.revin_bias = nn.Parameter(torch.zeros(1))
        self.time_embed = nn.Linear(p, d)
        self.fft_embed = nn.Linear(p, d)
        self.registers = nn.Parameter(torch.randn(cfg.n_registers, d))
        self.input_norm = nn.LayerNorm(self.n_tokens * d)
        self.encoder = mixer_stack(cfg.n_layers, self.n_tokens, cfg, cfg.channel_mixing, cfg.dropout)
        self.decoder = mixer_stack(
            cfg.n_decoder_layers, self.n_tokens, cfg, cfg.decoder_channel_mixing, cfg.head_dropout
        )
        self.head_dropout = nn.Dropout(cfg.head_dropout)
        self.time_head = nn.Linear(d, p)
        self.fft_head = nn.Linear(d, p)
        self.fft_prob_head = RegisterHead(cfg, self.context_len // 2)
        self.forecast_head = RegisterHead(cfg, cfg.horizon) if cfg.horizon else None
        self.classifier = TSLens(self.n_tokens, cfg) if cfg.n_classes else None

    # -------------------------------------------------------------------------------- inputs

    def _check(self, x: Tensor, padding_mask: Tensor | None) -> Tensor:
        """Validate x (B, T, C) and the padding mask; returns the observed steps (B, T) bool."""
        cfg = self.config
        if x.dim() != 3 or x.shape[1:] != (cfg.seq_len, cfg.n_channels):
            raise ValueError(f"expected series of shape (batch, {cfg.seq_len}, {cfg.n_channels}), got {tuple(x.shape)}")
        if padding_mask is None:
            return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        if padding_mask.shape != x.shape[:2]:
            raise ValueError(f"padding_mask must have shape {tuple(x.shape[:2])}, got {tuple(padding_mask.shape)}")
        return ~padding_mask.bool()

    def _context(self, x: Tensor, missing: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T, C) series and missing points -> the (B, L, C) context, its extra leading steps missing."""
        extra = self.context_len - x.shape[1]
        if extra:
            x = F.pad(x, (0, 0, extra, 0))
            missing = F.pad(missing, (0, 0, extra, 0), value=True)
        return x, missing

    def _normalise(self, x: Tensor, missing: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
        """(B, L, C) -> standardised series, missing points replaced by the mask token, then the affine."""
        token = self.mask_token.repeat(self.n_patches)[None, :, None]  # (1, L, 1)
        z = torch.where(missing, token, (x - loc) / scale)
        return z * self.revin_weight + self.revin_bias

    def _denormalise(self, z: Tensor, enc: Encoded) -> Tensor:
        return (z - self.revin_bias) / self.revin_weight * enc.scale + enc.loc

    # -------------------------------------------------------------------------------- network

    def encode(self, x: Tensor, missing: Tensor) -> Encoded:
        """Context (B, L, C) with missing points (B, L, C) bool -> decoder tokens and RevIN / FFT state."""
        cfg = self.config
        b, _, c = x.shape
        x = x.masked_fill(missing, 0.0)  # hidden and padded values never reach the arithmetic
        loc, scale = revin_stats(x, ~missing, cfg.min_scale)
        z = self._normalise(x, missing, loc, scale)  # (B, L, C)
        features, last_bin, real_max, imag_max = spectrum_features(z, cfg.min_scale)  # (B, L, C)
        time_tokens = self.time_embed(patchify(z, cfg.patch_len))  # (B, C, N, d)
        fft_tokens = self.fft_embed(patchify(features, cfg.patch_len))  # (B, C, N, d)
        registers = self.registers.expand(b, c, -1, -1)  # (B, C, R, d)
        tokens = torch.cat([time_tokens, fft_tokens, registers], dim=2)  # (B, C, P, d)
        tokens = self.input_norm(tokens.flatten(2)).view_as(tokens)
        tokens = self.decoder(self.encoder(tokens))  # (B, C, P, d)
        return Encoded(tokens, loc, scale, last_bin, real_max, imag_max)

    def time_reconstruction(self, enc: Encoded) -> Tensor:
        """(B, L, C) series from the time patch tokens, in the data's units."""
        patches = enc.tokens[:, :, : self.n_patches]  # (B, C, N, d)
        return self._denormalise(unpatchify(self.time_head(self.head_dropout(patches))), enc)

    def fft_reconstruction(self, enc: Encoded) -> Tensor:
        """(B, L, C) spectrum features from the FFT patch tokens."""
        patches = enc.tokens[:, :, self.n_patches : 2 * self.n_patches]  # (B, C, N, d)
        return unpatchify(self.fft_head(self.head_dropout(patches)))

    def fft_series(self, enc: Encoded, features: Tensor) -> Tensor:
        """(B, L, C) series recovered from predicted spectrum features, in the data's units."""
        return self._denormalise(features_to_series(features, enc.last_bin, enc.real_max, enc.imag_max), enc)

    def fft_log_probs(self, enc: Encoded) -> Tensor:
        """(B, L/2, C) log-probabilities over frequency bins from the registers."""
        return self.fft_prob_head(enc.tokens[:, :, 2 * self.n_patches :]).log_softmax(dim=-1).transpose(1, 2)

    def forecast(self, enc: Encoded) -> Tensor:
        """(B, horizon, C) the steps after the context, in the data's units."""
        if self.forecast_head is None:
            raise ValueError("this configuration has no forecast head (horizon = 0)")
        return self._denormalise(self.forecast_head(enc.tokens[:, :, 2 * self.n_patches :]).transpose(1, 2), enc)

    # ------------------------------------------------------------------------------- public API

    def forward(self, x: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        """Series (B, T, C), padding mask (B, T) True at padded steps -> class logits (B, n_classes)."""
        if self.classifier is None:
            raise ValueError("this TSPulse has no classification head; create it with n_classes > 0")
        observed = self._check(x, padding_mask)
        enc = self.encode(*self._context(x, ~observed[..., None].expand_as(x)))
        return self.classifier(enc.tokens, enc.loc, enc.scale)

    def make_mask(
        self, batch: int, mask_type: str | None = None, mask_ratio: float | None = None, generator=None
    ) -> Tensor:
        """(batch, L) bool pre-training mask over the context (L = seq_len rounded up to whole patches),
        True = hidden, the same for every channel; hidden steps that are padding are not scored."""
        cfg = self.config
        mask_type = cfg.mask_type if mask_type is None else mask_type
        mask_ratio = cfg.mask_ratio if mask_ratio is None else mask_ratio
        check_mask(mask_type, mask_ratio)
        if mask_type == "block":
            return block_mask(batch, self.n_patches, cfg.patch_len, mask_ratio, generator)
        return hybrid_mask(batch, self.n_patches, cfg.patch_len, mask_ratio, cfg.hybrid_full_patches, generator)

    def pretrain_loss(
        self,
        x: Tensor,
        padding_mask: Tensor | None = None,
        mask_type: str | None = None,
        mask_ratio: float | None = None,
        generator=None,
    ) -> dict[str, Tensor]:
        """Masked dual-space reconstruction loss on series (B, T, C): a dict of named scalar terms and "total"."""
        cfg = self.config
        observed = self._check(x, padding_mask)
        b, t, c = x.shape
        h = cfg.horizon if 0 < cfg.horizon < t else 0
        future, future_observed = x[:, t - h :], observed[:, t - h :]  # (B, h, C), (B, h)
        if h:  # the window shifted right by h: its last h steps become the forecast target
            x = F.pad(x[:, : t - h], (0, 0, h, 0))
            observed = F.pad(observed[:, : t - h], (h, 0), value=False)
        x, padded = self._context(x, ~observed[..., None].expand_as(x))  # (B, L, C)
        hidden = self.make_mask(b, mask_type, mask_ratio, generator).to(x.device)[..., None] & ~padded
        enc = self.encode(x, padded | hidden)

        def standardised_mse(estimate: Tensor, target: Tensor, where: Tensor) -> Tensor:
            error = ((estimate - target) / enc.scale) ** 2
            weight = where.to(error.dtype).expand_as(error)
            return (error * weight).sum() / weight.sum().clamp_min(1.0)

        clean = self._normalise(x, padded, enc.loc, enc.scale)  # nothing hidden, padding still masked
        target_features = spectrum_features(clean, cfg.min_scale)[0]
        features = self.fft_reconstruction(enc)
        losses = {
            "time": standardised_mse(self.time_reconstruction(enc), x, hidden),
            "fft": cfg.fft_weight * F.mse_loss(features, target_features),
            "fft_series": cfg.fft_series_weight * standardised_mse(self.fft_series(enc, features), x, hidden),
            "fft_prob": cfg.fft_prob_weight
            * -(spectrum_probs(clean) * self.fft_log_probs(enc)).sum(1).mean(),  # cross-entropy over bins
        }
        if h:
            where = future_observed[..., None]
            losses["forecast"] = cfg.forecast_weight * standardised_mse(self.forecast(enc), future, where)
        losses["total"] = sum(losses.values())
        return losses

    def embed(self, x: Tensor, padding_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Series (B, T, C) -> (semantic (B, C * R * d) from the registers, detailed (B, C * 2N * d) from
        the time and FFT patch tokens), both taken from the decoder output."""
        observed = self._check(x, padding_mask)
        tokens = self.encode(*self._context(x, ~observed[..., None].expand_as(x))).tokens  # (B, C, P, d)
        n = 2 * self.n_patches
        return tokens[:, :, n:].flatten(1), tokens[:, :, :n].flatten(1)

    @torch.no_grad()
    def impute(self, x: Tensor, missing_mask: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        """Series (B, T, C) with missing points (B, T) or (B, T, C) True -> the series with those points
        replaced by the time-head reconstruction (zero-shot: the model sees them as masked)."""
        observed = self._check(x, padding_mask)
        if missing_mask.shape not in (x.shape, x.shape[:2]):
            raise ValueError(f"missing_mask must have shape {tuple(x.shape[:2])} or {tuple(x.shape)}")
        missing = missing_mask.bool()
        missing = (missing[..., None] if missing.dim() == 2 else missing).expand_as(x)
        context, hidden = self._context(x, missing | ~observed[..., None])
        reconstruction = self.time_reconstruction(self.encode(context, hidden))[:, -x.shape[1] :]
        return torch.where(missing, reconstruction, x)

    @torch.no_grad()
    def anomaly_score(self, x: Tensor, padding_mask: Tensor | None = None, n_groups: int = 4) -> Tensor:
        """Series (B, T, C) -> (B, T) anomaly score in [0, 1]: the mean of three per-step deviations, each
        min-max scaled over the series' observed steps (padded steps score 0).

        time / FFT: every ``n_groups``-th patch hidden in turn (n_groups passes, batched), squared error
        of the time head and of the series recovered from the FFT head at the hidden steps; forecast:
        the series cut into blocks of ``horizon`` steps, each block forecast from everything before it
        (the first block has no context and scores 0 on this head). Errors are in units of the series'
        standard deviation and averaged over channels."""
        cfg = self.config
        observed = self._check(x, padding_mask)
        b, t, c = x.shape
        extra = self.context_len - t
        _, scale = revin_stats(x, observed[..., None].expand_as(x), cfg.min_scale)

        # time and FFT heads: group g hides the patches n with n % n_groups == g
        group = torch.arange(self.n_patches, device=x.device).repeat_interleave(cfg.patch_len) % n_groups
        hide = (group[None, :] == torch.arange(n_groups, device=x.device)[:, None])[:, extra:]  # (G, T)
        hidden = (hide[:, None, :, None] | ~observed[None, :, :, None]).expand(n_groups, b, t, c)
        context, missing = self._context(x.repeat(n_groups, 1, 1), hidden.reshape(n_groups * b, t, c))
        enc = self.encode(context, missing)
        time_rec = self.time_reconstruction(enc)[:, extra:].view(n_groups, b, t, c)
        fft_rec = self.fft_series(enc, self.fft_reconstruction(enc))[:, extra:].view(n_groups, b, t, c)
        pick = hide[:, None, :, None].to(x.dtype)  # each step is hidden in exactly one group
        deviations = [((((rec - x) / scale) ** 2) * pick).sum(0).mean(-1) for rec in (time_rec, fft_rec)]  # (B, T) each

        if self.forecast_head is not None and cfg.horizon < t:
            h = cfg.horizon
            starts = list(range(h, t, h))
            contexts, hiddens = [], []
            for s in starts:  # everything before step s, right-aligned, the rest missing
                contexts.append(F.pad(x[:, :s], (0, 0, t - s, 0)))
                hiddens.append(F.pad(~observed[:, :s], (t - s, 0), value=True))
            context = torch.cat(contexts)  # (K B, T, C)
            missing = torch.cat(hiddens)[..., None].expand_as(context)
            predicted = self.forecast(self.encode(*self._context(context, missing))).view(len(starts), b, h, c)
            forecast_dev = torch.full((b, t), math.nan, dtype=x.dtype, device=x.device)
            for k, s in enumerate(starts):
                stop = min(s + h, t)
                error = ((predicted[k, :, : stop - s] - x[:, s:stop]) / scale) ** 2
                forecast_dev[:, s:stop] = error.mean(-1)
            deviations.append(forecast_dev)

        scores = []
        for deviation in deviations:
            valid = observed & ~deviation.isnan()
            low = deviation.masked_fill(~valid, math.inf).amin(1, keepdim=True)
            high = deviation.masked_fill(~valid, -math.inf).amax(1, keepdim=True)
            scaled = (deviation - low) / (high - low).clamp_min(1e-12)
            scores.append(scaled.masked_fill(~valid, 0.0).nan_to_num(0.0))
        return torch.stack(scores).mean(0)  # (B, T)

    def example_inputs(self, batch: int = 2) -> tuple[Tensor]:
        return (torch.randn(batch, self.config.seq_len, self.config.n_channels),)

    def onnx_io(self) -> dict:
        c = self.config
        io = {
            "inputs": [port("series", f"series (batch, {c.seq_len}, {c.n_channels}), no missing values", batch=0)],
            "resize": {"batch": 3},
            "preprocess": f"resample each series to the context of {c.seq_len} steps; the graph normalises each "
            "channel itself (RevIN)",
        }
        if c.n_classes:
            io["outputs"] = [port("logits", f"class logits (batch, {c.n_classes})", batch=0)]
            io["postprocess"] = "argmax over the classes (softmax for probabilities)"
        else:  # the pre-trained model: its embeddings, as tfsignal's TSPulse.embed gives them
            d, n, r = c.d_model, 2 * (c.seq_len // c.patch_len), c.n_registers
            io["method"] = "embed"
            io["outputs"] = [
                port("semantic", f"register embedding (batch, {c.n_channels} * {r} * {d})", batch=0),
                port("detailed", f"time and FFT patch embeddings (batch, {c.n_channels} * {n} * {d})", batch=0),
            ]
            io["postprocess"] = "none: features for a downstream classifier, similarity search or clustering"
        return io


# Published pre-training configuration (context 512, patch 8): 1,042,330 parameters with one channel;
# with 10 registers it is 1,084,330, the count of the released tspulse-hybrid-dualhead-512-p8-r1 weights.
register("tspulse", TSPulse)
