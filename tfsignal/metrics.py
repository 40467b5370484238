"""Signal metrics: SI-SDR, permutation-invariant wrapper, BSS Eval SDR, overlap ratio of sources, the
loudest output's energy share (a lone voice kept on one track), PESQ,
ESTOI and DNSMOS wrappers; token and EEG/MEG metrics (codebook usage, unigram perplexity, variance
explained, PSD similarity).

``si_sdr`` and ``pit`` accept numpy arrays or torch tensors (batched over leading axes) and return
the same kind; the torch versions are differentiable and serve as training losses. The token and
EEG/MEG metrics take numpy arrays and return Python floats.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import torch
from scipy.fft import irfft, next_fast_len, rfft
from scipy.linalg import solve_toeplitz
from scipy.optimize import linear_sum_assignment

from .frontends.resample import resample

Array = np.ndarray | torch.Tensor
SDR_FILTER_LENGTH = 512  # taps of BSS Eval's allowed distortion filter


def si_sdr(estimate: Array, reference: Array, zero_mean: bool = True, eps: float = 1e-8) -> Array:
    """Scale-invariant SDR in dB over the last axis (Le Roux et al., 2019), batched.

    ``estimate`` and ``reference`` broadcast against each other; returns one value per leading
    index. With ``zero_mean`` both are centred first (the usual SI-SNR).
    """
    if isinstance(estimate, torch.Tensor) or isinstance(reference, torch.Tensor):
        est, ref = torch.as_tensor(estimate), torch.as_tensor(reference)
        ref = ref.to(est)
        if zero_mean:
            est = est - est.mean(-1, keepdim=True)
            ref = ref - ref.mean(-1, keepdim=True)
        scale = (est * ref).sum(-1, keepdim=True) / ((ref * ref).sum(-1, keepdim=True) + eps)
        target = scale * ref
        noise = est - target
        return 10 * torch.log10(((target * target).sum(-1) + eps) / ((noise * noise).sum(-1) + eps))
    est, ref = np.asarray(estimate, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if zero_mean:
        est = est - est.mean(-1, keepdims=True)
        ref = ref - ref.mean(-1, keepdims=True)
    scale = (est * ref).sum(-1, keepdims=True) / ((ref * ref).sum(-1, keepdims=True) + eps)
    target = scale * ref
    noise = est - target
    return 10 * np.log10(((target * target).sum(-1) + eps) / ((noise * noise).sum(-1) + eps))


def pit(
    metric: Callable[[Array, Array], Array],
    estimates: Array,
    references: Array,
    maximize: bool = True,
) -> tuple[Array, Array, Array]:
    """Permutation-invariant evaluation of a per-source ``metric`` over (batch, sources, time).

    Scores every (estimate, reference) pair once, then finds the assignment with the best mean:
    by brute force up to 3 sources, by the Hungarian algorithm beyond. Returns
    ``(best_mean (batch,), perm (batch, sources), reordered estimates)`` where ``perm[b, j]`` is
    the estimate matched to reference ``j``. With torch input the best mean keeps its gradient,
    so ``-pit(si_sdr, est, ref)[0].mean()`` is the PIT SI-SNR loss.
    """
    is_torch = isinstance(estimates, torch.Tensor)
    if estimates.shape != references.shape or estimates.ndim != 3:
        raise ValueError(
            "pit expects estimates and references of the same shape (batch, sources, time), got "
            f"{tuple(estimates.shape)} and {tuple(references.shape)}"
        )
    batch, n_src = estimates.shape[:2]
    pair = metric(estimates[:, :, None], references[:, None, :])  # (B, est i, ref j)
    scores = (pair.detach().cpu().numpy() if is_torch else np.asarray(pair)).astype(np.float64)
    if not maximize:
        scores = -scores
    perms = np.empty((batch, n_src), dtype=np.int64)
    if n_src <= 3:
        candidates = np.array(list(itertools.permutations(range(n_src))))  # (P, S)
        # total[b, p] = sum_j scores[b, candidates[p, j], j]
        total = scores[:, candidates, np.arange(n_src)].sum(-1)  # (B, P)
        perms[:] = candidates[total.argmax(-1)]
    else:
        for b in range(batch):
            rows, cols = linear_sum_assignment(-scores[b])
            perms[b, cols] = rows
    if is_torch:
        perm_t = torch.as_tensor(perms, device=estimates.device)
        chosen = torch.gather(pair, 1, perm_t[:, None, :]).squeeze(1)  # (B, S)
        reordered = torch.gather(estimates, 1, perm_t[:, :, None].expand(-1, -1, estimates.shape[-1]))
        return chosen.mean(-1), perm_t, reordered
    chosen = np.take_along_axis(np.asarray(pair), perms[:, None, :], axis=1)[:, 0]
    reordered = np.take_along_axis(np.asarray(estimates), perms[:, :, None], axis=1)
    return chosen.mean(-1), perms, reordered


def sdr(estimate: np.ndarray, reference: np.ndarray, filter_length: int = SDR_FILTER_LENGTH) -> float:
    """SDR in dB of one estimate (time,) against its reference (time,), as BSS Eval v3 defines it
    (Vincent, Gribonval and Fevotte, 2006; mir_eval's ``bss_eval_sources``).

    The target is the least-squares fit of the estimate by the reference filtered with any
    ``filter_length``-tap FIR filter (a time-invariant distortion is allowed); the error is the rest.
    The fit solves the Toeplitz normal equations of the reference's autocorrelation.
    """
    est, ref = np.asarray(estimate, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    size = next_fast_len(len(ref) + filter_length)
    ref_f, est_f = rfft(ref, size), rfft(est, size)
    auto = irfft(np.abs(ref_f) ** 2, size)[:filter_length]
    cross = irfft(np.conj(ref_f) * est_f, size)[:filter_length]  # cross[l] = sum_t ref[t] est[t + l]
    auto[0] += 1e-10 * auto[0] + 1e-20  # keeps the system solvable for silent or periodic references
    taps = solve_toeplitz(auto, cross)
    target = float(taps @ cross)  # energy of the projection
    error = max(float(est @ est) - target, 1e-20)
    return float(10 * np.log10(max(target, 1e-20) / error))


def overlap_ratio(sources: np.ndarray, sample_rate: int) -> float:
    """Share of the frames with speech in which two or more of ``sources`` (S, time) are active.

    Frames are 20 ms long; a source is active in a frame within 30 dB of its own loudest frame
    (the activity rule of :func:`tfsignal.data.activity.active_power`).
    """
    from tfsignal.data.activity import ACTIVE_FLOOR_DB, FRAME_SECONDS

    frame = round(FRAME_SECONDS * sample_rate)
    n_frames = max(1, sources.shape[-1] // frame)
    powers = np.square(sources[:, : n_frames * frame], dtype=np.float64).reshape(len(sources), n_frames, -1).mean(-1)
    active = powers >= powers.max(-1, keepdims=True) * 10 ** (-ACTIVE_FLOOR_DB / 10)
    active &= powers > 0
    counts = active.sum(0)
    return float((counts >= 2).sum() / max(1, (counts >= 1).sum()))


def louder_share(estimates: np.ndarray) -> float:
    """The share of the total energy on the loudest of ``estimates`` (sources, time): 1 when a
    separator given one voice leaves the other tracks silent, 1 / sources when it spreads the voice
    evenly (0 for all-silent estimates)."""
    energy = np.square(np.asarray(estimates, dtype=np.float64)).sum(-1)  # (sources,)
    total = float(energy.sum())
    return float(energy.max()) / total if total > 0 else 0.0


def _mono_1d(x: Array, name: str) -> np.ndarray:
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be a single (time,) signal, got shape {x.shape}")
    return x.astype(np.float64)


def pesq(reference: Array, degraded: Array, sample_rate: int, mode: str = "wb") -> float:
    """ITU-T P.862.2 wide-band (``mode="wb"``) or P.862 narrow-band (``"nb"``) PESQ.

    Signals at other rates are resampled to 16 kHz (8 kHz for narrow band). Needs the ``audio``
    extra (``pesq`` package).
    """
    try:
        from pesq import pesq as _pesq
    except ImportError as err:
        raise ImportError("PESQ needs the audio extra: pip install 'tfsignal[audio]'") from err
    ref, deg = _mono_1d(reference, "reference"), _mono_1d(degraded, "degraded")
    rate = 16000 if mode == "wb" else 8000
    ref, deg = resample(ref, sample_rate, rate), resample(deg, sample_rate, rate)
    n = min(len(ref), len(deg))
    return float(_pesq(rate, ref[:n], deg[:n], mode))


def estoi(reference: Array, degraded: Array, sample_rate: int) -> float:
    """Extended short-time objective intelligibility (Jensen & Taal, 2016), via ``pystoi``."""
    try:
        from pystoi import stoi
    except ImportError as err:
        raise ImportError("ESTOI needs the audio extra: pip install 'tfsignal[audio]'") from err
    ref, deg = _mono_1d(reference, "reference"), _mono_1d(degraded, "degraded")
    n = min(len(ref), len(deg))
    return float(stoi(ref[:n], deg[:n], sample_rate, extended=True))


DNSMOS_RATE = 16000  # the rate the DNSMOS models were trained at


def dnsmos(wave: Array, sample_rate: int) -> dict[str, float]:
    """DNSMOS P.835 (Reddy et al., ICASSP 2022): non-intrusive estimates, on the 1-5 MOS scale, of the
    speech quality (``sig``), the background noise (``bak``) and the overall quality (``ovrl``).

    No reference is needed, so it also scores real recordings. Runs the DNS Challenge's ONNX models
    shipped in the ``speechmos`` package (needs the audio extra). Signals at other rates are
    resampled to 16 kHz; samples are clipped to [-1, 1], as a 16-bit file would store them, because
    the models expect that scale. As in the challenge's script, a clip shorter than 9.01 s is doubled
    until it is at least that long, then scored in 9.01 s windows at 1 s hops and the scores averaged
    (a 4 s clip becomes 16 s: seven windows, about 2 s of CPU time).
    """
    try:
        from speechmos import dnsmos as _dnsmos
    except ImportError as err:
        raise ImportError(f"DNSMOS needs the speechmos package ({err}): pip install speechmos") from err
    x = resample(_mono_1d(wave, "wave"), sample_rate, DNSMOS_RATE)
    scores = _dnsmos.run(np.clip(x, -1.0, 1.0).astype(np.float32), DNSMOS_RATE)
    return {"sig": float(scores["sig_mos"]), "bak": float(scores["bak_mos"]), "ovrl": float(scores["ovrl_mos"])}


# ------------------------------------------------------------------------------ tokens and EEG/MEG


def _token_counts(tokens, n_codes: int | None) -> np.ndarray:
    """Occurrences of each code in an int array of any shape: (n_codes,) or (max + 1,) counts."""
    tokens = np.asarray(tokens)
    if tokens.size == 0:
        raise ValueError("tokens is empty")
    if not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"tokens must be integers, got dtype {tokens.dtype}")
    if tokens.min() < 0:
        raise ValueError(f"tokens must be non-negative, got a minimum of {tokens.min()}")
    if n_codes is not None and tokens.max() >= n_codes:
        raise ValueError(f"tokens must lie in [0, n_codes = {n_codes}), got a maximum of {tokens.max()}")
    return np.bincount(tokens.ravel(), minlength=n_codes or 0)


def codebook_usage(tokens, n_codes: int) -> float:
    """Fraction of the ``n_codes`` codes that occur at least once in ``tokens`` (int array, any shape).

    The sample-level MEG tokeniser of MEG-GPT uses 65 of its 128 codes: usage 0.51.
    """
    if n_codes < 1:
        raise ValueError(f"n_codes must be positive, got {n_codes}")
    return float(np.count_nonzero(_token_counts(tokens, n_codes)) / n_codes)


def perplexity(tokens, n_codes: int | None = None) -> float:
    """Unigram perplexity of ``tokens``: exp of the entropy (natural log) of their empirical distribution.

    Equals k when the tokens are spread uniformly over k codes, 1 when one code is used throughout;
    at most the number of codes. ``n_codes``, when given, only checks that every token is below it.
    """
    if n_codes is not None and n_codes < 1:
        raise ValueError(f"n_codes must be positive, got {n_codes}")
    counts = _token_counts(tokens, n_codes)
    p = counts[counts > 0] / counts.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def pve(reference, reconstruction, axis: int | None = None) -> float:
    """Variance of ``reference`` explained by ``reconstruction``, as a fraction (1 = perfect):
    1 - sum((reference - reconstruction)^2) / sum((reference - mean(reference))^2).

    With ``axis`` the mean is taken along that axis (e.g. ``axis=-1`` on (channels, samples): one
    mean per channel) before everything is summed, so channel offsets do not count as explained
    variance; without it, one mean over all values. Predicting that mean gives 0; worse than it,
    a negative value.
    """
    ref = np.asarray(reference, dtype=np.float64)
    rec = np.asarray(reconstruction, dtype=np.float64)
    if ref.shape != rec.shape:
        raise ValueError(f"reference and reconstruction must have the same shape, got {ref.shape} and {rec.shape}")
    if ref.size == 0:
        raise ValueError("reference is empty")
    total = ((ref - ref.mean(axis=axis, keepdims=True)) ** 2).sum()
    if total == 0:
        raise ValueError("reference has no variance around its mean: PVE is undefined")
    return float(1.0 - ((ref - rec) ** 2).sum() / total)


def _log_psd(x, sfreq: float, nperseg: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(channels, samples) or (epochs, channels, samples) -> frequencies (F,), log10 Welch PSD (channels, F)
    averaged over epochs."""
    from scipy.signal import welch

    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"{name} must be (n_channels, n_samples) or (n_epochs, n_channels, n_samples), got {x.shape}")
    if x.shape[-1] < nperseg:
        raise ValueError(f"{name} has {x.shape[-1]} samples, fewer than nperseg = {nperseg}")
    freqs, psd = welch(x, fs=sfreq, nperseg=nperseg, axis=-1)  # (E, C, F)
    return freqs, np.log10(np.maximum(psd.mean(0), np.finfo(np.float64).tiny))


def psd_similarity(
    generated, real, sfreq: float, fmin: float = 1.0, fmax: float | None = None, nperseg: int | None = None
) -> float:
    """Agreement of the spectra of ``generated`` and ``real`` signals: the Pearson correlation of their
    log10 Welch PSDs between ``fmin`` and ``fmax`` Hz, one per channel, averaged over channels.

    Each input is (n_channels, n_samples) or (n_epochs, n_channels, n_samples) (PSD averaged over
    epochs); the channel counts must match, the lengths need not. ``fmax`` defaults to 90 % of the
    Nyquist frequency, ``nperseg`` to 2 s of samples (0.5 Hz bins) or the shorter input if that is
    shorter. The measure ignores overall gain (a constant offset in log power) and is 1 for spectra
    of the same shape; a flat curve against anything counts as 0.
    """
    n_gen, n_real = np.shape(generated), np.shape(real)
    if len(n_gen) < 1 or len(n_real) < 1:
        raise ValueError("generated and real must be arrays of samples")
    channels = lambda shape: 1 if len(shape) == 1 else shape[-2]  # noqa: E731
    if channels(n_gen) != channels(n_real):
        raise ValueError(
            f"generated and real must have the same number of channels, got {channels(n_gen)} and {channels(n_real)}"
        )
    if nperseg is None:
        nperseg = min(int(round(2 * sfreq)), n_gen[-1], n_real[-1])
    fmax = 0.9 * sfreq / 2 if fmax is None else fmax
    freqs, gen = _log_psd(generated, sfreq, nperseg, "generated")
    _, ref = _log_psd(real, sfreq, nperseg, "real")
    keep = (freqs >= fmin) & (freqs <= fmax)
    if keep.sum() < 3:
        raise ValueError(f"fewer than 3 frequency bins between {fmin} and {fmax} Hz (nperseg = {nperseg})")
    gen = gen[:, keep] - gen[:, keep].mean(1, keepdims=True)
    ref = ref[:, keep] - ref[:, keep].mean(1, keepdims=True)
    norm = np.sqrt((gen**2).sum(1) * (ref**2).sum(1))
    r = np.where(norm > 0, (gen * ref).sum(1) / np.where(norm > 0, norm, 1.0), 0.0)
    return float(r.mean())
