"""The metric discriminator of MetricGAN, as MP-SENet / MambAttention train with it.

A small convolutional network ``D(clean, estimate)`` learns to predict the wide-band PESQ of an
estimate, rescaled to [0, 1] as (PESQ - 1) / 3.5, from the two compressed magnitude spectra; the
enhancer is then pushed towards the spectra that ``D`` scores 1 (PESQ 4.5). PESQ itself is not
differentiable, so the discriminator stands in for it. In the published recipe its loss enters the
enhancer's total with weight 0.05 (``LossWeights.metric``).

One training step with :class:`MetricGAN` (what :func:`tfsignal.train.enhancement_loss` does when
given one):

1. ``update(clean_mag, mag, clean, wave)``: the discriminator learns ``D(clean, clean) -> 1`` and
   ``D(clean, estimate) -> PESQ(estimate)`` (the estimate detached; clips whose PESQ cannot be
   computed, such as silent crops, are left out of that term);
2. ``generator_loss(clean_mag, mag)``: ``(D(clean, estimate) - 1)^2``, for the enhancer.

The discriminator trains with its own AdamW at a constant learning rate. Under torchrun its
gradients are averaged over the processes like the enhancer's. Its state (weights and optimiser)
goes into the trainer's checkpoint, so a resumed run continues it; a checkpoint without one starts a
fresh discriminator.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from tfsignal.metrics import pesq


class MetricDiscriminator(nn.Module):
    """Two compressed magnitudes (B, F, T) -> a predicted normalised PESQ (B,) in (0, 2).

    Four stride-2 4x4 convolutions (spectral norm, instance norm, PReLU) with 16, 32, 64 and 128
    channels, a global max over time and frequency, then 128 -> 64 -> 1 and a learnable sigmoid
    (beta 2), after MetricGAN+ as MP-SENet uses it.
    """

    def __init__(self, width: int = 16, beta: float = 2.0) -> None:
        super().__init__()
        layers, channels = [], 2
        for out in (width, 2 * width, 4 * width, 8 * width):
            layers += [
                spectral_norm(nn.Conv2d(channels, out, 4, stride=2, padding=1, bias=False)),
                nn.InstanceNorm2d(out, affine=True),
                nn.PReLU(out),
            ]
            channels = out
        self.convs = nn.Sequential(*layers)
        self.head = nn.Sequential(
            spectral_norm(nn.Linear(8 * width, 4 * width)),
            nn.Dropout(0.3),
            nn.PReLU(4 * width),
            spectral_norm(nn.Linear(4 * width, 1)),
        )
        self.beta = beta
        self.slope = nn.Parameter(torch.ones(1))

    def forward(self, clean_mag: Tensor, est_mag: Tensor) -> Tensor:
        x = torch.stack([clean_mag, est_mag], dim=1)  # (B, 2, F, T)
        x = self.convs(x)  # (B, 128, F / 16, T / 16)
        x = x.amax(dim=(2, 3))  # (B, 128): global max pooling
        return self.beta * torch.sigmoid(self.slope * self.head(x).squeeze(-1))  # (B,)


def normalised_pesq(clean: Tensor, estimate: Tensor, sample_rate: int) -> Tensor:
    """Wide-band PESQ of each estimate (B, time) against its reference, as (PESQ - 1) / 3.5 in [0, 1];
    NaN where PESQ cannot be computed (a crop without speech, for example)."""
    scores = []
    for ref, est in zip(clean.detach().cpu().numpy(), estimate.detach().cpu().numpy()):
        try:
            scores.append((pesq(ref, est, sample_rate) - 1.0) / 3.5)
        except Exception:  # the pesq package raises its own errors for silence and too-short input
            scores.append(np.nan)
    return torch.tensor(scores, dtype=torch.float32, device=clean.device)


class MetricGAN:
    """The discriminator, its optimiser and the two losses of metric-GAN training (see the module)."""

    def __init__(self, sample_rate: int = 16000, lr: float = 5e-4, betas=(0.8, 0.99), device="cpu") -> None:
        self.sample_rate = sample_rate
        with torch.random.fork_rng(devices=[]):  # the same initial weights in every torchrun process
            torch.manual_seed(0)
            self.discriminator = MetricDiscriminator().to(device)
        self.optimizer = torch.optim.AdamW(self.discriminator.parameters(), lr=lr, betas=betas)

    def _average_gradients(self) -> None:
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            for p in self.discriminator.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= dist.get_world_size()

    def update(self, clean_mag: Tensor, est_mag: Tensor, clean: Tensor, estimate: Tensor) -> dict[str, Tensor]:
        """One discriminator step; returns its loss and the batch's mean PESQ (for the training log)."""
        est_mag, estimate = est_mag.detach(), estimate.detach()
        target = normalised_pesq(clean, estimate, self.sample_rate)  # (B,)
        valid = torch.isfinite(target)
        self.discriminator.train()
        real = self.discriminator(clean_mag, clean_mag)
        loss = F.mse_loss(real, torch.ones_like(real))
        if valid.any():
            fake = self.discriminator(clean_mag[valid], est_mag[valid])
            loss = loss + F.mse_loss(fake, target[valid])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._average_gradients()
        self.optimizer.step()
        mean_pesq = target[valid].mean() * 3.5 + 1.0 if valid.any() else torch.tensor(float("nan"))
        return {"discriminator": loss.detach(), "pesq": mean_pesq.detach()}

    def generator_loss(self, clean_mag: Tensor, est_mag: Tensor) -> Tensor:
        """(D(clean, estimate) - 1)^2: small when the discriminator expects PESQ 4.5."""
        score = self.discriminator(clean_mag, est_mag)
        return F.mse_loss(score, torch.ones_like(score))

    def state_dict(self) -> dict:
        return {"discriminator": self.discriminator.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer.load_state_dict(state["optimizer"])
