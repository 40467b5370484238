"""Long signals through fixed-size models: overlapping chunks joined by a cross-fade, or through
streaming models that carry their state from block to block (:func:`streamed`).

Every chunk has the same length (the last one is zero-padded), so a model sees static shapes (as
an ONNX graph needs) and memory stays flat however long the input is. Neighbouring chunks overlap
by ``overlap`` samples; across the middle half of each overlap their outputs are cross-faded with
complementary linear ramps that sum to one, and the outer quarters (next to a chunk's cut edge,
where a model lacks context) get no weight. A model whose receptive field reaches less than
``overlap / 4`` samples therefore gives exactly its whole-file output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np
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


def chunked_stream(
    fn: Callable[[Tensor], Tensor],
    read: Callable[[int, int], Tensor],
    length: int,
    chunk: int,
    overlap: int,
    batch_size: int = 4,
    progress: bool = False,
) -> Iterator[Tensor]:
    """Chunked processing of a signal that is read piece by piece; yields the output in order.

    ``read(s, e)`` returns input samples ``[s, e)`` as (channels, e - s) of a ``length``-sample
    signal; ``fn`` maps (n, chunk) to (n, chunk) or (n, k, chunk). The yielded pieces, (channels,
    [k,] n_i), joined along the last axis are :func:`chunked_apply`'s result, while only about
    ``batch_size`` chunks of input and output are in memory at a time. A signal no longer than
    ``chunk`` is processed whole.
    """
    if not 0 <= overlap < chunk:
        raise ValueError(f"overlap must be in [0, chunk={chunk}), got {overlap}")
    if length <= chunk:
        yield fn(read(0, length))
        return
    hop = chunk - overlap
    starts = [i * hop for i in range(1 + -(-(length - chunk) // hop))]
    done = 0  # output before this sample has been yielded
    pending: Tensor | None = None  # (channels, [k,] n): overlap-added output from `done` on
    # closed also when a read fails, so that the error is not printed on the line of the bar
    with tqdm(unit="chunk", disable=not progress, leave=False) as bar:
        i, per_call = 0, batch_size  # chunk starts per call of fn: batch_size // channels once known
        while i < len(starts):
            group = starts[i : i + per_call]
            block_start = group[0]
            x = read(block_start, min(group[-1] + chunk, length))  # (C, n)
            channels = x.shape[0]
            per_call = max(1, batch_size // channels)
            group = group[:per_call]  # at most batch_size chunks (of all channels) per call of fn
            bar.total = len(starts) * channels
            # the last chunk runs past the end: only that piece is zero-padded
            at = [s - block_start for s in group]
            pieces = [F.pad(x[:, a : a + chunk], (0, max(a + block_start + chunk - length, 0))) for a in at]
            y = fn(torch.cat(pieces))  # (len(group) * C, [k,] chunk), chunk-major
            y = y.reshape(len(group), channels, *y.shape[1:])
            end = group[-1] + chunk  # pending must reach the end of the group's last chunk
            grow = end - done - (0 if pending is None else pending.shape[-1])
            zeros = y.new_zeros((channels, *y.shape[2:-1], grow))
            pending = zeros if pending is None else torch.cat([pending, zeros], dim=-1)
            for j, s in enumerate(group):
                w = crossfade_window(chunk, overlap, s == 0, s == starts[-1]).to(y)
                pending[..., s - done : s - done + chunk] += y[j] * w
            i += len(group)
            bar.update(len(group) * channels)
            final = starts[i] if i < len(starts) else length  # no later chunk reaches before this sample
            yield pending[..., : final - done]
            pending, done = pending[..., final - done :], final


def streamed(
    stream,
    read: Callable[[int, int], Tensor],
    length: int,
    block: int,
    progress: bool = False,
) -> Iterator[Tensor]:
    """A signal read block by block through a stateful ``stream``; yields the output in order.

    ``stream`` has ``process(x (channels, n)) -> (channels, m)``, ``flush()`` and ``delay`` (the
    samples its output lags its input), as ``StreamingMambAttention.stream()`` does. The yielded
    pieces, joined, hold exactly ``length`` samples aligned with the input: the first ``delay``
    outputs are dropped and ``flush`` supplies the end. Nothing is cut into chunks, so there are no
    chunk boundaries in the output, and memory stays flat in the length.
    """
    skip = stream.delay
    with tqdm(total=length, unit="sample", unit_scale=True, disable=not progress, leave=False) as bar:
        for start in range(0, length, block):
            stop = min(start + block, length)
            y = stream.process(read(start, stop))
            cut = min(skip, y.shape[-1])
            skip -= cut
            if y.shape[-1] > cut:
                yield y[..., cut:]
            bar.update(stop - start)
    tail = stream.flush()
    yield tail.reshape(-1, tail.shape[-1])[..., skip:]


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
    :func:`chunked_stream` does the same reading and yielding piece by piece.
    """
    if x.dim() != 2:
        raise ValueError(f"chunked_apply expects (channels, time), got {tuple(x.shape)}")
    out: Tensor | None = None  # (channels, [k,] time): the only whole-length buffer besides x
    at = 0
    for piece in chunked_stream(fn, lambda s, e: x[:, s:e], x.shape[-1], chunk, overlap, batch_size, progress):
        if out is None:
            out = piece.new_empty((*piece.shape[:-1], x.shape[-1]))
        out[..., at : at + piece.shape[-1]] = piece
        at += piece.shape[-1]
    return out


def float_subtype(source_subtype: str, dst: Path) -> str | None:
    """``source_subtype`` when it is a float one that ``dst``'s format can hold, else None (the
    format's default)."""
    import soundfile as sf

    ext = dst.suffix.lstrip(".").upper() or "WAV"
    if source_subtype in ("FLOAT", "DOUBLE") and ext in sf.available_formats() and sf.check_format(ext, source_subtype):
        return source_subtype
    return None


def chunked_file(
    fn: Callable[[Tensor], Tensor],
    src: str | os.PathLike,
    dst: str | os.PathLike | Sequence[str | os.PathLike],
    rate: int,
    chunk: int,
    overlap: int,
    batch_size: int = 4,
    device: str | torch.device = "cpu",
    overwrite: bool = False,
    progress: bool | None = None,
    subtype: str | None = None,
    mono: bool = False,
    stream: Callable[[int], object] | None = None,
) -> Path | list[Path]:
    """Run ``fn`` ((n, chunk) -> (n, chunk) at ``rate`` Hz) over the audio file ``src`` and write
    ``dst`` at ``src``'s own rate and channel count, streaming.

    The file is read, resampled to ``rate``, processed chunk by chunk, resampled back and written
    block by block, so memory stays flat however long the file is; the samples are those of doing
    each step on the whole signal (``resample`` -> :func:`chunked_apply` -> ``resample``). ``dst``
    is written atomically (``subtype``: as in :func:`tfsignal.io.save_audio`; by default float input
    keeps float samples where ``dst``'s format has them, so nothing beyond full scale is clipped,
    and other input gets the format's usual subtype) and an existing file is
    kept unless ``overwrite``; a problem with ``src`` raises :class:`tfsignal.io.InputFileError` and
    leaves no ``dst``. ``progress`` None shows a bar for files longer than four chunks.

    With ``mono`` the channels are averaged before ``fn`` and the outputs have one channel. When
    ``fn`` returns (n, k, chunk) (a separator's k sources), ``dst`` is a list of k paths, one per
    output, all written or none.

    With ``stream`` (a factory: ``stream(channels)`` returns a stateful stream, see
    :func:`streamed`) ``fn`` and ``overlap`` are unused: the file runs through one stream in
    blocks of ``chunk`` samples, so the output is the stream's whole-signal output.
    """
    from .frontends.resample import resample_span, resampled_length, span_input
    from .io import AudioReader, InputFileError, audio_writer

    many = not isinstance(dst, (str, os.PathLike))
    dsts = [Path(d) for d in (dst if many else [dst])]
    with AudioReader(src) as reader, ExitStack() as stack:
        n, file_rate, channels = reader.frames, reader.rate, 1 if mono else reader.channels
        kinds = [subtype or float_subtype(reader.subtype, d) for d in dsts]
        writers = [stack.enter_context(audio_writer(d, file_rate, channels, overwrite, k)) for d, k in zip(dsts, kinds)]
        try:
            m = resampled_length(n, file_rate, rate)  # length at the model's rate
        except ValueError as err:  # a rate no recorder uses, from a damaged header
            raise InputFileError(src, str(err)) from None
        if progress is None:
            progress = m > 4 * chunk

        def read_inside(s: int, e: int) -> Tensor:  # model-rate input [s, e), (channels, e - s)
            x = resample_span(reader.read, n, file_rate, rate, s, e)
            return torch.from_numpy(x.mean(0, keepdims=True) if mono else x).to(device)

        held = None  # model-rate output [held_at, held_at + len): (channels, [k,] len)
        held_at = written = 0  # written: file-rate output samples already written

        def read_held(s: int, e: int) -> np.ndarray:
            return held[..., s - held_at : e - held_at]

        if stream is not None:
            pieces = streamed(stream(channels), read_inside, m, chunk, progress)
        else:
            pieces = chunked_stream(fn, read_inside, m, chunk, overlap, batch_size, progress)
        for piece in pieces:
            piece = piece.float().cpu().numpy() if isinstance(piece, Tensor) else np.asarray(piece, np.float32)
            if (piece.ndim == 3) != many or (many and piece.shape[1] != len(dsts)):
                raise ValueError(f"{len(dsts)} output path(s) for outputs shaped {piece.shape[:-1]}")
            held = piece if held is None else np.concatenate([held, piece], axis=-1)
            ready = held_at + held.shape[-1]
            stop = n  # the last file-rate sample whose resampling reads no further than `ready`
            if ready < m:
                stop = min(n, ready * file_rate // rate)
                while stop > written and (over := span_input(written, stop, m, rate, file_rate)[1] - ready) > 0:
                    stop -= over * file_rate // rate + 1
            if stop > written:
                block = resample_span(read_held, m, rate, file_rate, written, stop)  # (channels, [k,] t)
                for k, write in enumerate(writers):
                    write(block[:, k] if many else block)
                written = stop
                keep = span_input(written, min(written + 1, n), m, rate, file_rate)[0]  # needed from here on
                held, held_at = held[..., keep - held_at :], keep
    return dsts if many else dsts[0]
