"""Source separation of long recordings: chunks, the sources' order kept across chunks, overlap-add.

A separator returns its sources in no particular order, and that order may differ from one chunk
to the next. Before two neighbouring chunks are cross-faded, the new chunk's sources are permuted
to the order that best matches the previous chunk on the samples both have seen (permutation-
invariant SI-SDR over the overlap, as in PIT training), so source ``k`` of the output is the same
speaker from the first chunk to the last. The cross-fade is :func:`tfsignal.chunking.crossfade_window`,
as ``enhance`` uses. Memory is one batch of chunks plus the output, whatever the file's length.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from .chunking import crossfade_window
from .frontends import resample
from .metrics import pit, si_sdr

__all__ = ["align_to", "separate"]


def align_to(previous: Tensor, current: Tensor) -> Tensor:
    """The order of ``current``'s sources that best matches ``previous``, both (sources, time).

    Returns ``perm`` (sources,) with ``current[perm]`` in ``previous``'s order: the permutation
    with the highest mean SI-SDR against ``previous`` (ties, e.g. on silence, keep the order).
    """
    _, perm, _ = pit(si_sdr, current[None].double(), previous[None].double())
    return torch.as_tensor(perm[0], dtype=torch.long)


def separate(
    model,
    audio: np.ndarray | Tensor,
    sample_rate: int,
    chunk_seconds: float = 8.0,
    overlap_seconds: float = 2.0,
    batch_size: int = 1,
    progress: bool = False,
) -> np.ndarray:
    """Separate a mono recording (time,) at ``sample_rate`` into (n_sources, time) at the same rate.

    ``model`` maps a (batch, time) mixture at ``model.sample_rate`` to (batch, n_sources, time)
    (``TIGER`` does). Recordings longer than ``chunk_seconds`` go through it in chunks of that
    length overlapping by ``overlap_seconds`` (the last chunk zero-padded), ``batch_size`` chunks
    per call; shorter ones go through whole.
    """
    x = audio.detach().cpu().numpy() if isinstance(audio, Tensor) else np.asarray(audio)
    if x.ndim != 1:
        raise ValueError(f"separate expects a mono recording shaped (time,), got {x.shape}")
    if not 0 < overlap_seconds < chunk_seconds:  # without an overlap the chunks' orders cannot be matched
        raise ValueError(f"need 0 < overlap_seconds < chunk_seconds, got {overlap_seconds} and {chunk_seconds}")
    rate = model.sample_rate
    inside = torch.from_numpy(np.ascontiguousarray(resample(x.astype(np.float32), sample_rate, rate)))
    parameter = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    if parameter is not None:
        inside = inside.to(parameter.device)
    chunk, overlap = int(round(chunk_seconds * rate)), max(1, int(round(overlap_seconds * rate)))
    with torch.inference_mode():
        y = _separate_chunks(model, inside, chunk, overlap, batch_size, progress)  # (S, time)
    y = resample(y.float().cpu().numpy(), rate, sample_rate)
    return np.ascontiguousarray(y[:, : x.shape[-1]], dtype=np.float32)


def _separate_chunks(model, x: Tensor, chunk: int, overlap: int, batch_size: int, progress: bool) -> Tensor:
    """(time,) -> (S, time) at the model's rate; see :func:`separate`."""
    length = x.shape[-1]
    if length <= chunk:  # whole; a very short recording is zero-padded to a quarter of a second
        shortest = min(chunk, model.sample_rate // 4)
        return model(torch.nn.functional.pad(x, (0, max(0, shortest - length)))[None])[0, :, :length]
    hop = chunk - overlap
    n_chunks = 1 + -(-(length - chunk) // hop)
    padded = torch.nn.functional.pad(x, (0, (n_chunks - 1) * hop + chunk - length))
    starts = [i * hop for i in range(n_chunks)]
    out: Tensor | None = None
    tail: Tensor | None = None  # the previous chunk's last `overlap` samples, in the output's order
    for i in tqdm(range(0, n_chunks, batch_size), disable=not progress, unit="batch", leave=False):
        batch_starts = starts[i : i + batch_size]
        y = model(torch.stack([padded[s : s + chunk] for s in batch_starts]))  # (n, S, chunk)
        if out is None:
            out = y.new_zeros((y.shape[1], padded.shape[-1]))
        for j, s in enumerate(batch_starts):
            sources = y[j]  # (S, chunk)
            if tail is not None:
                sources = sources[align_to(tail, sources[:, :overlap])]
            tail = sources[:, chunk - overlap :]
            out[:, s : s + chunk] += sources * crossfade_window(chunk, overlap, s == 0, s == starts[-1]).to(y)
    return out[:, :length]
