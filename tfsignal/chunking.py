"""Long signals through fixed-size models: overlapping chunks joined by a cross-fade.

Every chunk has the same length (the last one is zero-padded), so a model sees static shapes (as
an ONNX graph needs) and memory stays flat however long the input is. Neighbouring chunks overlap
by ``overlap`` samples; across the middle half of each overlap their outputs are cross-faded with
complementary linear ramps that sum to one, and the outer quarters (next to a chunk's cut edge,
where a model lacks context) get no weight. A model whose receptive field reaches less than
``overlap / 4`` samples therefore gives exactly its whole-file output.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm


def crossfade_window(chunk: int, overlap: int, first: bool, last: bool) -> Tensor:
    """(chunk,) weights: 0 over the first quarter of the leading overlap, a linear ramp to 1 over its
    middle half, then 1 (mirrored at the trailing end); ``first``/``last`` keep that end flat."""
    w = torch.ones(chunk)
    if overlap > 0:
        ramp = ((torch.arange(overlap) + 0.5 - overlap / 4) / (overlap / 2)).clamp(0, 1)
        if not first:
            w[:overlap] = ramp
        if not last:
            w[-overlap:] = ramp.flip(0)
    return w


def chunked_apply(
    fn: Callable[[Tensor], Tensor],
    x: Tensor,
    chunk: int,
    overlap: int,
    batch_size: int = 4,
    progress: bool = False,
) -> Tensor:
    """Apply ``fn`` to ``x`` (channels, time) chunk by chunk and overlap-add the results.

    ``fn`` maps (n, chunk) to (n, chunk) or (n, k, chunk) (e.g. k separated sources); the result is
    (channels, time) or (channels, k, time). Inputs no longer than ``chunk`` are processed whole.
    """
    if x.dim() != 2:
        raise ValueError(f"chunked_apply expects (channels, time), got {tuple(x.shape)}")
    if not 0 <= overlap < chunk:
        raise ValueError(f"overlap must be in [0, chunk={chunk}), got {overlap}")
    channels, length = x.shape
    if length <= chunk:
        return fn(x)
    hop = chunk - overlap
    n_chunks = 1 + -(-(length - chunk) // hop)
    starts = [i * hop for i in range(n_chunks)]
    out: Tensor | None = None  # (channels, [k,] length): the only whole-length buffer besides x
    bar = tqdm(total=n_chunks * channels, unit="chunk", disable=not progress, leave=False)
    for c in range(channels):
        for i in range(0, n_chunks, batch_size):
            batch_starts = starts[i : i + batch_size]
            # the last chunk runs past the end: zero-pad that piece alone, not a copy of all of x
            pieces = torch.stack([F.pad(x[c, s : s + chunk], (0, max(s + chunk - length, 0))) for s in batch_starts])
            y = fn(pieces)  # (n, chunk) or (n, k, chunk)
            if out is None:
                out = y.new_zeros((channels, *y.shape[1:-1], length))
            for j, s in enumerate(batch_starts):
                w = crossfade_window(chunk, overlap, s == 0, s == starts[-1]).to(y)
                kept = min(chunk, length - s)
                out[c, ..., s : s + kept] += (y[j] * w)[..., :kept]
            bar.update(len(batch_starts))
    bar.close()
    return out
