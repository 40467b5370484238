"""Source separation of long recordings: chunks, the sources' order kept across chunks, overlap-add.

A separator returns its sources in no particular order, and that order may differ from one chunk
to the next. Before two neighbouring chunks are cross-faded, the new chunk's sources are permuted
to the order that best matches the previous chunk on the samples both have seen (permutation-
invariant SI-SDR over the overlap, as in PIT training), so source ``k`` of the output is the same
speaker from the first chunk to the last. Chunking and cross-fade are :mod:`tfsignal.chunking`'s,
as ``enhance`` uses them. Memory is one batch of chunks plus the output, whatever the file's length.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .chunking import chunked_apply
from .frontends import resample
from .metrics import pit, si_sdr

__all__ = ["align_to", "aligned_separator", "separate"]


def align_to(previous: Tensor, current: Tensor) -> Tensor:
    """The order of ``current``'s sources that best matches ``previous``, both (sources, time).

    Returns ``perm`` (sources,) with ``current[perm]`` in ``previous``'s order: the permutation
    with the highest mean SI-SDR against ``previous`` (ties, e.g. on silence, keep the order).
    """
    _, perm, _ = pit(si_sdr, current[None].double(), previous[None].double())
    return torch.as_tensor(perm[0], dtype=torch.long)


def aligned_separator(model, overlap: int):
    """``fn`` for :func:`tfsignal.chunking.chunked_stream`: (n, chunk) mixtures -> (n, S, chunk)
    sources, each chunk's sources permuted to match the previous chunk's on their ``overlap``.

    It keeps the last chunk's tail between calls, so it must see the chunks of one signal in order
    (as ``chunked_stream`` passes a mono signal's); make a new one for every signal. An input
    shorter than a quarter of a second is zero-padded to that for the model and cut back.
    """
    tail: Tensor | None = None  # the previous chunk's last `overlap` samples, in the output's order

    def fn(x: Tensor) -> Tensor:
        nonlocal tail
        length = x.shape[-1]
        shortest = model.sample_rate // 4
        y = model(torch.nn.functional.pad(x, (0, max(0, shortest - length))))[..., :length]  # (n, S, chunk)
        out = []
        for sources in y:  # chunks in time order
            if tail is not None:
                sources = sources[align_to(tail, sources[:, :overlap])]
            tail = sources[:, length - overlap :]
            out.append(sources)
        return torch.stack(out)

    return fn


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
    per call (:func:`tfsignal.chunking.chunked_apply` with :func:`aligned_separator`); shorter
    ones go through whole.
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
        fn = aligned_separator(model, overlap)
        y = chunked_apply(fn, inside[None], chunk, overlap, batch_size, progress)[0]  # (S, time)
    y = resample(y.float().cpu().numpy(), rate, sample_rate)
    return np.ascontiguousarray(y[:, : x.shape[-1]], dtype=np.float32)
