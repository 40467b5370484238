"""Training losses of MP-SENet / SEMamba / MambAttention, as pure functions.

All spectra are in the compressed domain the network works in: magnitudes mag**0.3 (B, F, T),
phases (B, F, T) and complex spectra as (B, F, T, 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def anti_wrap(x: Tensor) -> Tensor:
    """|x - 2 pi round(x / 2 pi)|: the distance of a phase difference from the nearest multiple of 2 pi."""
    return (x - 2 * math.pi * torch.round(x / (2 * math.pi))).abs()


def phase_loss(phase: Tensor, target: Tensor) -> Tensor:
    """Anti-wrapped instantaneous phase + group delay (along frequency) + instantaneous frequency (along time)."""
    diff = phase - target  # (B, F, T)
    instantaneous = anti_wrap(diff).mean()
    group_delay = anti_wrap(torch.diff(diff, dim=1)).mean()
    inst_frequency = anti_wrap(torch.diff(diff, dim=2)).mean()
    return instantaneous + group_delay + inst_frequency


@dataclass
class LossWeights:
    """Weights of the published recipe (MambAttention, after MP-SENet); metric GAN loss not included."""

    magnitude: float = 0.9
    phase: float = 0.3
    complex: float = 0.1
    time: float = 0.2
    consistency: float = 0.1


def enhancement_loss(model, noisy: Tensor, clean: Tensor, weights: LossWeights | None = None) -> dict[str, Tensor]:
    """All loss terms for a batch of (noisy, clean) waveforms (B, time); "total" is their weighted sum.

    ``model`` provides ``analyse`` (wave -> compressed mag, phase), ``forward`` (-> mag, phase,
    complex) and ``synthesise`` (-> wave), as models/mambattention.py does. It may be wrapped in
    DistributedDataParallel: the forward pass goes through the wrapper, the STFTs through the model.
    """
    weights = weights or LossWeights()
    core = getattr(model, "module", model)
    length = noisy.shape[-1]
    noisy_mag, noisy_phase = core.analyse(noisy)
    clean_mag, clean_phase = core.analyse(clean)
    clean_complex = torch.stack([clean_mag * torch.cos(clean_phase), clean_mag * torch.sin(clean_phase)], -1)
    mag, phase, complex_ = model(noisy_mag, noisy_phase)
    wave = core.synthesise(mag, phase, length)
    # Consistency: the spectrum of the produced waveform should be the spectrum that was predicted.
    re_mag, re_phase = core.analyse(wave)
    re_complex = torch.stack([re_mag * torch.cos(re_phase), re_mag * torch.sin(re_phase)], -1)
    terms = {
        "magnitude": F.mse_loss(mag, clean_mag),
        "phase": phase_loss(phase, clean_phase),
        "complex": 2 * F.mse_loss(complex_, clean_complex),
        "time": F.l1_loss(wave, clean),
        "consistency": 2 * F.mse_loss(complex_, re_complex),
    }
    terms["total"] = sum(getattr(weights, name) * value for name, value in terms.items())
    return terms
