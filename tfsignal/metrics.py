"""Signal metrics: SI-SDR, permutation-invariant wrapper, PESQ and ESTOI wrappers.

``si_sdr`` and ``pit`` accept numpy arrays or torch tensors (batched over leading axes) and return
the same kind; the torch versions are differentiable and serve as training losses.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .frontends.resample import resample

Array = np.ndarray | torch.Tensor


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
