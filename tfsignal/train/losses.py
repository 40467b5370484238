"""Training losses, as pure functions: MP-SENet / SEMamba / MambAttention (enhancement) and
permutation-invariant SI-SNR or thresholded SNR (separation).

All enhancement spectra are in the compressed domain the network works in: magnitudes mag**0.3 (B, F, T),
phases (B, F, T) and complex spectra as (B, F, T, 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from tfsignal.metrics import pit, si_sdr


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
    """Weights of the published recipe (MambAttention, after MP-SENet); ``metric`` applies only when
    training with a :class:`~tfsignal.train.metric_gan.MetricGAN`."""

    metric: float = 0.05
    magnitude: float = 0.9
    phase: float = 0.3
    complex: float = 0.1
    time: float = 0.2
    consistency: float = 0.1


def enhancement_loss(
    model, noisy: Tensor, clean: Tensor, weights: LossWeights | None = None, metric_gan=None
) -> dict[str, Tensor]:
    """All loss terms for a batch of (noisy, clean) waveforms (B, time); "total" is their weighted sum.

    With a :class:`~tfsignal.train.metric_gan.MetricGAN` the discriminator first takes its own step
    on this batch ("discriminator" and the batch's mean "pesq" are logged, not added), then its
    verdict on the estimate joins the total as the "metric" term.

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
    if metric_gan is not None:
        logged = metric_gan.update(clean_mag, mag, clean, wave)
        terms["metric"] = metric_gan.generator_loss(clean_mag, mag)
    terms["total"] = sum(getattr(weights, name) * value for name, value in terms.items())
    if metric_gan is not None:
        terms.update(logged)
    return terms


def pit_si_snr_loss(model, mixture: Tensor, sources: Tensor) -> dict[str, Tensor]:
    """Permutation-invariant SI-SNR loss (Luo and Mesgarani's Conv-TasNet objective) for a separator.

    ``model`` maps mixtures (B, time) to estimates (B, n_sources, time), as TIGER does; ``sources``
    are the references (B, n_sources, time). For each mixture the estimates are matched to the
    references in the order with the best mean SI-SNR (:func:`tfsignal.metrics.pit`); "total" is
    minus that mean over the batch, and "si_snr" the mean itself (dB) for the training log.
    """
    best, _, _ = pit(si_sdr, model(mixture), sources)  # (B,): SI-SNR, since si_sdr centres both signals
    si_snr = best.mean()
    return {"si_snr": si_snr, "total": -si_snr}


def thresholded_snr(estimate: Tensor, reference: Tensor, mixture: Tensor, cap_db: float = 30.0) -> Tensor:
    """SNR (dB) over the last axis with a soft threshold set by the mixture, as MixIT and FUSS train:
    10 log10(|s|^2 / (|s - s_hat|^2 + tau |x|^2)), tau = 10**(-cap_db / 10), for the reference s,
    estimate s_hat and mixture x (broadcast against each other).

    An estimate of the whole mixture that is exact scores ``cap_db``; a quieter source's ceiling is
    lower by its level under the mixture. For a silent reference (or one more than ``cap_db`` under
    the mixture) |s|^2 in the numerator becomes tau |x|^2: a silent estimate scores 0 dB and any
    output is penalised through the denominator (FUSS's loss for an inactive source), so the value
    and its gradient stay finite. Not scale-invariant: the level of each output is part of the score.
    """
    tau = 10 ** (-cap_db / 10)
    floor = tau * mixture.pow(2).sum(-1)
    signal = torch.maximum(reference.pow(2).sum(-1), floor)
    error = (reference - estimate).pow(2).sum(-1)
    return 10 * torch.log10((signal + 1e-12) / (error + floor + 1e-12))


def pit_snr_loss(model, mixture: Tensor, sources: Tensor, cap_db: float = 30.0) -> dict[str, Tensor]:
    """Permutation-invariant :func:`thresholded_snr` loss for a separator, defined when a source is silent.

    ``model`` maps mixtures (B, time) to estimates (B, n_sources, time); ``sources`` (B, n_sources,
    time) may hold silent references (a lone voice). For each mixture the estimates are matched to
    the references in the order with the best mean score (:func:`tfsignal.metrics.pit`); "total" is
    minus that mean over the batch and "snr" the mean itself (dB) for the training log.
    """
    floor_of = mixture[:, None, None, :]  # (B, 1, 1, time) against pit's (B, est, ref, time) pairs
    best, _, _ = pit(lambda e, r: thresholded_snr(e, r, floor_of, cap_db), model(mixture), sources)
    snr = best.mean()
    return {"snr": snr, "total": -snr}


def capped_si_snr(estimate: Tensor, reference: Tensor, cap_db: float = 30.0) -> Tensor:
    """SI-SNR (dB) over the last axis with a soft ceiling: 10 log10(|t|^2 / (|e|^2 + tau |t|^2)),
    tau = 10**(-cap_db / 10), for the target part t and residual e of the estimate (both centred).

    Without the ceiling an estimate that is already nearly exact (a clean input passed through)
    gets a gradient that grows without bound as its error shrinks; in a batch, such items then
    own the clipped gradient. The threshold is the one MixIT and FUSS put on SNR.
    """
    estimate = estimate - estimate.mean(-1, keepdim=True)
    reference = reference - reference.mean(-1, keepdim=True)
    scale = (estimate * reference).sum(-1, keepdim=True) / (reference.pow(2).sum(-1, keepdim=True) + 1e-8)
    target = scale * reference
    target_power = target.pow(2).sum(-1)
    residual_power = (estimate - target).pow(2).sum(-1)
    tau = 10 ** (-cap_db / 10)
    return 10 * torch.log10((target_power + 1e-8) / (residual_power + tau * target_power + 1e-8))


def mask_enhancement_loss(model, noisy: Tensor, clean: Tensor, power: float = 0.3) -> dict[str, Tensor]:
    """Loss of a complex-mask enhancer (models/mambattention_stream.py) on (noisy, clean) waveforms (B, time).

    Compressed-spectrum terms (each spectrum X becomes X |X|**(power - 1), as the network sees it):
    mean squared error of the real and imaginary parts and of the compressed magnitude, plus the
    negative SI-SNR of the waveform with a 30 dB soft ceiling (:func:`capped_si_snr`), in the
    proportions GTCRN's authors train with (30 (real + imag) + 70 magnitude + SI-SNR in bels).
    "total" is the weighted sum.

    ``model`` provides ``analyse`` (wave -> spectrum (B, F, T, 2)), ``forward`` (spectrum ->
    enhanced spectrum) and ``synthesise``; it may be wrapped in DistributedDataParallel.
    """
    core = getattr(model, "module", model)
    length = noisy.shape[-1]
    estimate = model(core.analyse(noisy))  # (B, F, T, 2)
    target = core.analyse(clean)

    def compressed(spec: Tensor) -> tuple[Tensor, Tensor]:
        mag = (spec.pow(2).sum(-1) + 1e-12).sqrt()  # (B, F, T)
        return spec * mag.pow(power - 1)[..., None], mag.pow(power)

    est_c, est_mag = compressed(estimate)
    tgt_c, tgt_mag = compressed(target)
    wave = core.synthesise(estimate, length)
    si_snr = capped_si_snr(wave, clean).mean()
    terms = {
        "complex": F.mse_loss(est_c, tgt_c) * 2,  # the mean over (real, imag) times 2 = real + imag
        "magnitude": F.mse_loss(est_mag, tgt_mag),
        "si_snr": si_snr,
    }
    terms["total"] = 30 * terms["complex"] + 70 * terms["magnitude"] - si_snr / 10
    return terms
