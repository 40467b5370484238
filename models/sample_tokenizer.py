"""The network of MEG-GPT's sample-level tokenizer (``tfsignal.tokenizers.SampleTokenizer`` is its
estimator): one token per sample per channel.

Huang et al. 2025, "MEG-GPT" (repo OHBA-analysis/MEG-GPT, EphysTokenizer). Per channel, a 1-layer
GRU of 128 units reads the z-scored signal; a linear layer gives 128 token logits, LayerNorm,
divided by 0.1; the decoder gives each token a learned 10-sample kernel and sums the kernels of the
chosen tokens (a convolution of the one-hot sequence).

Parameters: 68,353 here (GRU 50,304 + logits 16,512 + LayerNorm 256 + kernels 1,281) against the
published 231 k: one kernel bank is shared by all channels (needed for any-montage use), and the
published count depends on a per-dataset configuration (channels, layers) the paper does not give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Model, port
from .registry import register


@dataclass
class SampleConfig:
    n_codes: int = 128
    hidden: int = 128  # GRU units
    kernel_size: int = 10  # samples per token kernel
    logit_scale: float = 10.0  # LayerNorm(logits) / 0.1


class SampleNet(Model):
    Config = SampleConfig

    def __init__(self, config: SampleConfig) -> None:
        super().__init__(config)
        c = config
        self.n_codes = c.n_codes
        self.gru = nn.GRU(1, c.hidden, batch_first=True)
        self.to_logits = nn.Linear(c.hidden, c.n_codes)
        self.norm = nn.LayerNorm(c.n_codes)
        self.kernels = nn.Parameter(0.1 * torch.randn(c.n_codes, c.kernel_size))  # one kernel per token
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        """Z-scored signal (B, L) -> tokens (B, L), the most likely of each sample."""
        return self.logits(x).argmax(-1)

    def example_inputs(self, seconds: float = 2.0) -> tuple[Tensor]:
        return (torch.randn(2, round(seconds * 250)),)

    def onnx_io(self) -> dict:
        return {
            "inputs": [port("signal", "one channel per row (rows, samples) at 250 Hz, z-scored", rows=0, samples=1)],
            "outputs": [port("tokens", "int64 token index of each sample (rows, samples)", rows=0, samples=1)],
            "resize": {"seconds": 3.1},
            "sample_rate": 250,
            "preprocess": "resample each channel to 250 Hz, then z-score it (subtract its mean, divide by its "
            "standard deviation), as SampleTokenizer.transform does",
            "postprocess": f"none: indices into the {self.n_codes}-token codebook",
        }

    def logits(self, x: Tensor) -> Tensor:
        """Signal (B, L) -> token logits (B, L, K)."""
        hidden, _ = self.gru(x[..., None])  # (B, L, hidden)
        return self.norm(self.to_logits(hidden)) * self.config.logit_scale

    def reconstruct(self, weights: Tensor) -> Tensor:
        """Token weights (B, L, K) -> signal (B, L): the weighted kernels of all tokens, summed."""
        k = self.config.kernel_size  # "same" padding; an even kernel reaches one sample further ahead
        out = F.conv1d(F.pad(weights.transpose(1, 2), ((k - 1) // 2, k // 2)), self.kernels[None])  # (B, 1, L)
        return out[:, 0] + self.bias

    def decode(self, tokens: Tensor) -> Tensor:
        """Tokens (B, L) -> signal (B, L): :meth:`reconstruct` of their one-hot weights, computed as
        ``kernel_size`` lookups, without the (B, L, K) one-hot (1 GB for 2 minutes of 64 channels)."""
        k, length = self.config.kernel_size, tokens.shape[-1]
        # out[t] = bias + sum_j kernels[tokens[t + j - (k - 1) // 2], j]; positions off the ends add 0
        padded = F.pad(tokens, ((k - 1) // 2, k // 2), value=self.n_codes)  # (B, L + k - 1)
        table = F.pad(self.kernels, (0, 0, 0, 1))  # (K + 1, k): a zero row for the padding
        out = self.bias.expand(tokens.shape).clone()
        for j in range(k):
            out += table[padded[:, j : j + length], j]
        return out

    def loss(self, x: Tensor, temperature: float, diversity: float = 0.0) -> Tensor:
        """Reconstruction MSE, plus ``diversity`` x (1 - normalised entropy of the batch's mean token
        probabilities), which pushes the encoder to spread its choices over the codebook."""
        logits = self.logits(x)
        soft = logits.softmax(-1)
        if temperature > 0.05:
            weights = (logits / temperature).softmax(-1)
        else:  # hard one-hot forward, soft gradient (straight-through)
            weights = F.one_hot(logits.argmax(-1), self.n_codes).type_as(soft) - soft.detach() + soft
        loss = F.mse_loss(self.reconstruct(weights), x)
        if diversity:
            mean = soft.reshape(-1, self.n_codes).mean(0)
            entropy = -(mean * mean.clamp_min(1e-9).log()).sum()
            loss = loss + diversity * (1 - entropy / math.log(self.n_codes))
        return loss


register("sample-tokenizer", SampleNet)
