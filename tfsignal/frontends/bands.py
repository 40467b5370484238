"""Band splits defined in Hz and turned into STFT bin ranges for any rate and ``n_fft``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

# TIGER (Xu et al., ICLR 2025): (upper edge in Hz, band width in Hz) up to 8 kHz; at 16 kHz and
# n_fft 640 this is 40 x 1 bin, 10 x 4, 8 x 10, 8 x 20 and one leftover band (Nyquist) = 67.
TIGER_BANDS_HZ = ((1000, 25), (2000, 100), (4000, 250), (8000, 500))


def band_edges(widths: Sequence[tuple[float, float]], max_hz: float | None = None) -> list[float]:
    """Band edges in Hz from (upper edge, width) pairs, starting at 0.

    ``max_hz`` (usually the Nyquist frequency) cuts the table there, so one table serves every
    sampling rate: a band that would cross it is dropped and the leftover band of
    :class:`BandSplit` takes the rest.
    """
    edges, low = [0.0], 0.0
    for upper, width in widths:
        if width <= 0 or upper <= low:
            raise ValueError(f"bad band table entry (upper={upper}, width={width})")
        while low + width <= upper + 1e-9:
            if max_hz is not None and low + width > max_hz + 1e-9:
                return edges
            low += width
            edges.append(low)
    return edges


class BandSplit(nn.Module):
    """Split the frequency axis into bands given by edges in Hz.

    Band ``i`` holds the bins with ``edges[i] <= f < edges[i + 1]``; bins from the last edge up to
    Nyquist form one more (leftover) band, so every bin lands in exactly one band. ``ranges`` lists
    the ``(start, stop)`` bin ranges; ``split`` cuts a spectrogram into per-band views and ``merge``
    puts them back.

    >>> bs = BandSplit(band_edges(TIGER_BANDS_HZ), sample_rate=16000, n_fft=640)
    >>> len(bs.ranges)
    67
    """

    def __init__(self, edges_hz: Sequence[float], sample_rate: int, n_fft: int) -> None:
        super().__init__()
        nyquist = sample_rate / 2
        edges = [float(e) for e in edges_hz]
        if len(edges) < 2 or edges[0] != 0:
            raise ValueError("band edges must start at 0 Hz and hold at least one band")
        if any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError("band edges must increase strictly")
        if edges[-1] > nyquist:
            raise ValueError(
                f"band edge {edges[-1]:g} Hz lies above Nyquist ({nyquist:g} Hz at {sample_rate} Hz); "
                "cut the table with band_edges(..., max_hz=sample_rate / 2)"
            )
        n_freq = n_fft // 2 + 1
        bin_hz = sample_rate / n_fft
        # first bin at or above each edge; the small tolerance keeps exact edges on their bin
        starts = [min(n_freq, int(-(-(e - 1e-6 * bin_hz) // bin_hz))) for e in edges]
        ranges = list(zip(starts[:-1], starts[1:]))
        if starts[-1] < n_freq:
            ranges.append((starts[-1], n_freq))
        for (start, stop), low, high in zip(ranges, edges, edges[1:]):
            if stop <= start:
                raise ValueError(
                    f"band {low:g}-{high:g} Hz holds no STFT bin at {bin_hz:g} Hz per bin "
                    f"(sample_rate {sample_rate}, n_fft {n_fft}); use a larger n_fft or wider bands"
                )
        self.sample_rate, self.n_fft, self.n_freq = sample_rate, n_fft, n_freq
        self.edges_hz = edges
        self.ranges: list[tuple[int, int]] = ranges
        self.widths: list[int] = [stop - start for start, stop in ranges]

    def __len__(self) -> int:
        return len(self.ranges)

    def split(self, spec: Tensor, dim: int = -2) -> list[Tensor]:
        """Per-band slices of ``spec`` along the frequency axis ``dim`` (default (..., freq, frames))."""
        if spec.shape[dim] != self.n_freq:
            raise ValueError(f"expected {self.n_freq} bins on dim {dim}, got {spec.shape[dim]}")
        return list(torch.split(spec, self.widths, dim=dim))

    def merge(self, bands: Sequence[Tensor], dim: int = -2) -> Tensor:
        """Concatenate per-band tensors back into a full spectrogram."""
        return torch.cat(list(bands), dim=dim)

    def forward(self, spec: Tensor) -> list[Tensor]:
        return self.split(spec)

    def extra_repr(self) -> str:
        return f"n_bands={len(self)}, sample_rate={self.sample_rate}, n_fft={self.n_fft}"


# ------------------------------------------------------------------------------- ERB band merging


def hz_to_erb(hz: Tensor | float) -> Tensor:
    """Glasberg & Moore's ERB-rate scale: 21.4 * log10(1 + 0.00437 * hz)."""
    return 21.4 * torch.log10(1 + 0.00437 * torch.as_tensor(hz, dtype=torch.float64))


def erb_weights(sample_rate: int, n_fft: int, n_low: int, n_bands: int) -> Tensor:
    """(n_low + n_bands, n_freq) float64 weights: bins below ``n_low`` pass one to one, the rest fall
    into ``n_bands`` triangular filters spaced evenly on the ERB-rate scale up to Nyquist.

    The triangles of neighbouring bands cross at half height, so the weights of every bin above
    ``n_low`` sum to one over the bands (a partition of unity).
    """
    n_freq = n_fft // 2 + 1
    if not 0 < n_low < n_freq or n_bands < 2:
        raise ValueError(f"need 0 < n_low < {n_freq} and n_bands >= 2, got n_low={n_low}, n_bands={n_bands}")
    erb = hz_to_erb(torch.arange(n_low, n_freq, dtype=torch.float64) * sample_rate / n_fft)  # (n_high,)
    centres = torch.linspace(float(erb[0]), float(erb[-1]), n_bands, dtype=torch.float64)  # (n_bands,)
    spacing = centres[1] - centres[0]
    triangles = (1 - (erb[None, :] - centres[:, None]).abs() / spacing).clamp_min(0)  # (n_bands, n_high)
    empty = (triangles.sum(1) == 0).nonzero()
    if len(empty):
        raise ValueError(
            f"{n_bands} ERB bands above bin {n_low} leave band {int(empty[0])} without a bin at n_fft={n_fft}; "
            "use fewer bands or a larger n_low"
        )
    weights = torch.zeros(n_low + n_bands, n_freq, dtype=torch.float64)
    weights[:n_low, :n_low] = torch.eye(n_low, dtype=torch.float64)
    weights[n_low:, n_low:] = triangles
    return weights


class ERBBands(nn.Module):
    """Merge STFT bins into fewer bands and spread band values back onto the bins.

    The low ``n_low`` bins keep full resolution (where harmonics are resolved); the bins above are
    merged into ``n_bands`` ERB-spaced triangular bands, as GTCRN's ERB module does. ``merge`` takes
    the weighted mean of each band's bins; ``expand`` interpolates band values back onto bins (for a
    mask: a band-constant value returns the same value on every bin). Both are fixed matrix
    products on the frequency axis, so they run in any graph, including ONNX.

    >>> erb = ERBBands(16000, 512, n_low=65, n_bands=64)
    >>> erb.merge(torch.ones(2, 3, 10, 257)).shape       # (..., freq) -> (..., bands)
    torch.Size([2, 3, 10, 129])
    """

    def __init__(self, sample_rate: int, n_fft: int, n_low: int, n_bands: int) -> None:
        super().__init__()
        weights = erb_weights(sample_rate, n_fft, n_low, n_bands)  # (bands, bins)
        self.n_freq, self.n_out = weights.shape[1], weights.shape[0]
        # merge: each band's row normalised to sum 1; expand: each bin's column normalised to sum 1
        self.register_buffer("merge_matrix", (weights / weights.sum(1, keepdim=True)).T.float(), persistent=False)
        self.register_buffer("expand_matrix", (weights / weights.sum(0, keepdim=True)).float(), persistent=False)

    def merge(self, x: Tensor) -> Tensor:
        """(..., n_freq) -> (..., n_low + n_bands)."""
        return x @ self.merge_matrix

    def expand(self, x: Tensor) -> Tensor:
        """(..., n_low + n_bands) -> (..., n_freq)."""
        return x @ self.expand_matrix

    def forward(self, x: Tensor) -> Tensor:
        return self.merge(x)

    def extra_repr(self) -> str:
        return f"n_freq={self.n_freq}, n_out={self.n_out}"
