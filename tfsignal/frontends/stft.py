"""Short-time Fourier transform with two backends that give the same numbers.

``fft``  frames the signal and calls ``torch.fft.rfft`` / ``irfft`` (fast, for training).
``conv`` uses a windowed DFT basis as a ``Conv1d`` and its inverse as a ``ConvTranspose1d``
         followed by window-sum normalisation (exports to ONNX, where ``torch.istft`` cannot).
         A dense DFT costs O(n_fft^2) per frame against the FFT's O(n_fft log n_fft), so on
         CPU it is slower than ``fft`` (benchmarks/README.md). :class:`STFT` takes it whatever
         its backend while a model is exported (``tfsignal.kernels.exporting()``), so every
         exported graph holds matrix products that any ONNX runtime has, not DFT ops.

Both follow ``torch.stft`` / ``torch.istft`` conventions: periodic window zero-padded to ``n_fft``
in the middle, reflect padding of ``n_fft // 2`` when ``center=True``, one-sided spectrum, no
normalisation. The DFT basis is built in float64 from ``(k * n) mod n_fft`` so that its angles are
exact; built in float32 the conv backend would miss ``torch.stft`` by ~2e-3.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BACKENDS = ("fft", "conv")
WINDOWS = {
    "hann": torch.hann_window,
    "hamming": torch.hamming_window,
    "blackman": torch.blackman_window,
    "rect": lambda n, dtype: torch.ones(n, dtype=dtype),
}


def make_window(window: str | Tensor, n_fft: int, win_length: int | None = None, dtype=torch.float64) -> Tensor:
    """A periodic window of ``win_length`` zero-padded in the middle to ``n_fft`` samples."""
    win_length = n_fft if win_length is None else win_length
    if not 0 < win_length <= n_fft:
        raise ValueError(f"win_length must be in 1..n_fft={n_fft}, got {win_length}")
    if isinstance(window, Tensor):
        if window.shape != (win_length,):
            raise ValueError(f"window tensor must have shape ({win_length},), got {tuple(window.shape)}")
        w = window.to(dtype)
    elif window in WINDOWS:
        w = WINDOWS[window](win_length, dtype=dtype)
    else:
        raise ValueError(f"unknown window {window!r}; choose one of {sorted(WINDOWS)} or pass a tensor")
    left = (n_fft - win_length) // 2
    return F.pad(w, (left, n_fft - win_length - left))


def dft_bases(window: Tensor) -> tuple[Tensor, Tensor]:
    """Forward and inverse windowed real-DFT bases, each (2 * n_freq, 1, n_fft), float64.

    Forward rows: ``w[n] cos(2 pi k n / N)`` then ``-w[n] sin(2 pi k n / N)``, so a Conv1d gives
    the real parts of all bins followed by the imaginary parts. Inverse rows are the one-sided
    inverse DFT (DC and Nyquist counted once, the others twice, scaled by 1/N) times the window,
    ready for ConvTranspose1d.
    """
    n_fft = window.numel()
    n_freq = n_fft // 2 + 1
    k = torch.arange(n_freq)[:, None]
    n = torch.arange(n_fft)[None, :]
    angle = (2 * math.pi / n_fft) * torch.remainder(k * n, n_fft).to(torch.float64)  # (F, N)
    cos, sin = torch.cos(angle), torch.sin(angle)
    w = window.to(torch.float64)
    forward = torch.cat([cos * w, -sin * w], dim=0)
    weight = torch.full((n_freq, 1), 2.0, dtype=torch.float64)
    weight[0] = 1.0
    if n_fft % 2 == 0:
        weight[-1] = 1.0
    inverse = torch.cat([weight * cos * w, -weight * sin * w], dim=0) / n_fft
    return forward.unsqueeze(1), inverse.unsqueeze(1)


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown STFT backend {backend!r}; choose one of {BACKENDS}")


def stft(
    x: Tensor,
    n_fft: int,
    hop_length: int,
    window: Tensor,
    center: bool = True,
    backend: str = "fft",
    return_complex: bool = True,
    bases: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """STFT of ``x`` (..., time) -> complex (..., freq, frames), or real (..., freq, frames, 2).

    ``window`` is (n_fft,) as made by :func:`make_window`; ``bases`` (conv backend only) are
    :func:`dft_bases` in ``x``'s dtype, computed here when not given.
    """
    _check_backend(backend)
    if x.dim() < 1:
        raise ValueError("stft expects a tensor shaped (..., time)")
    lead, length = x.shape[:-1], x.shape[-1]
    x = x.reshape(-1, 1, length)  # (B, 1, T)
    if center:
        if length <= n_fft // 2:
            raise ValueError(f"signal of {length} samples is too short for n_fft={n_fft} with center=True")
        x = F.pad(x, (n_fft // 2, n_fft // 2), mode="reflect")
    elif length < n_fft:
        raise ValueError(f"signal of {length} samples is shorter than n_fft={n_fft}")
    n_freq = n_fft // 2 + 1
    if backend == "fft":
        frames = x[:, 0].unfold(-1, n_fft, hop_length) * window.to(x)  # (B, frames, N)
        spec = torch.fft.rfft(frames, dim=-1).transpose(1, 2)  # (B, F, frames)
        real, imag = spec.real, spec.imag
    else:
        basis = dft_bases(window)[0].to(x) if bases is None else bases[0]
        out = F.conv1d(x, basis, stride=hop_length)  # (B, 2F, frames): real parts, then imaginary
        real, imag = out[:, :n_freq], out[:, n_freq:]
    if return_complex:
        out = torch.complex(real, imag)
        return out.reshape(*lead, n_freq, out.shape[-1])
    out = torch.stack([real, imag], dim=-1)  # (B, F, frames, 2)
    return out.reshape(*lead, n_freq, out.shape[-2], 2)


def istft(
    spec: Tensor,
    n_fft: int,
    hop_length: int,
    window: Tensor,
    center: bool = True,
    length: int | None = None,
    backend: str = "fft",
    bases: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """Inverse of :func:`stft`: complex (..., freq, frames) or real (..., freq, frames, 2) -> (..., time).

    Overlap-add divided by the overlap-added squared window, as ``torch.istft``; samples where that
    sum is ~0 (the first one with a Hann window and ``center=False``) are left unnormalised.
    """
    _check_backend(backend)
    n_freq = n_fft // 2 + 1
    if spec.is_complex():
        real, imag = spec.real, spec.imag
    else:
        if spec.shape[-1] != 2:
            raise ValueError("a real spectrogram must end in a (real, imag) axis of size 2")
        real, imag = spec[..., 0], spec[..., 1]
    if real.dim() < 2 or real.shape[-2] != n_freq:
        raise ValueError(f"expected {n_freq} frequency bins for n_fft={n_fft}, got {tuple(real.shape)}")
    lead, n_frames = real.shape[:-2], real.shape[-1]
    real = real.reshape(-1, n_freq, n_frames)  # (B, F, frames)
    imag = imag.reshape(-1, n_freq, n_frames)
    full_length = n_fft + hop_length * (n_frames - 1)
    window = window.to(real)
    if backend == "fft":
        frames = torch.fft.irfft(torch.complex(real, imag).transpose(1, 2), n=n_fft, dim=-1)
        frames = (frames * window).transpose(1, 2)  # (B, N, frames)
        y = F.fold(frames, output_size=(1, full_length), kernel_size=(1, n_fft), stride=(1, hop_length))
        y = y.reshape(-1, 1, full_length)  # (B, 1, T)
    else:
        basis = dft_bases(window)[1].to(real) if bases is None else bases[1]
        y = F.conv_transpose1d(torch.cat([real, imag], dim=1), basis, stride=hop_length)  # (B, 1, T)
    ones = torch.ones_like(real[:1, :1])  # (1, 1, frames)
    envelope = F.conv_transpose1d(ones, (window * window).view(1, 1, n_fft), stride=hop_length)
    envelope = torch.where(envelope > 1e-11, envelope, torch.ones_like(envelope))
    y = (y / envelope)[:, 0]  # (B, T)
    start = n_fft // 2 if center else 0
    if length is None:
        end = full_length - n_fft // 2 if center else full_length
    else:
        end = start + length
        if end > full_length:
            y = F.pad(y, (0, end - full_length))
    y = y[:, start:end]
    return y.reshape(*lead, y.shape[-1])


class STFT(nn.Module):
    """STFT/iSTFT pair holding its window and bases.

    >>> tf = STFT(n_fft=400, hop_length=100)
    >>> spec = tf.stft(torch.randn(2, 16000))          # (2, 201, 161) complex
    >>> wave = tf.istft(spec, length=16000)            # (2, 16000)

    The float64 window and bases are kept as plain attributes (not buffers) and cast per dtype and
    device on use, so ``.double()`` gets float64-exact bases and nothing derivable is saved in a
    state dict.
    """

    def __init__(
        self,
        n_fft: int,
        hop_length: int,
        win_length: int | None = None,
        window: str | Tensor = "hann",
        center: bool = True,
        backend: str = "fft",
    ) -> None:
        super().__init__()
        _check_backend(backend)
        if hop_length <= 0:
            raise ValueError(f"hop_length must be positive, got {hop_length}")
        self.n_fft, self.hop_length, self.center, self.backend = n_fft, hop_length, center, backend
        self.win_length = n_fft if win_length is None else win_length
        self.n_freq = n_fft // 2 + 1
        self._window64 = make_window(window, n_fft, self.win_length)
        self._bases64: tuple[Tensor, Tensor] | None = None  # the conv backend's, built on first use
        self._cast: dict[tuple, tuple[Tensor, tuple[Tensor, Tensor] | None]] = {}

    def _backend(self) -> str:
        """``backend``, or ``"conv"`` while the model is being exported."""
        from tfsignal.kernels import exporting

        return "conv" if exporting() else self.backend

    def _tensors(self, like: Tensor, backend: str) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
        dtype = like.real.dtype if like.is_complex() else like.dtype
        key = (dtype, like.device, backend)
        if key not in self._cast:
            bases = None
            if backend == "conv":
                if self._bases64 is None:
                    self._bases64 = dft_bases(self._window64)
                bases = tuple(b.to(like.device, dtype) for b in self._bases64)
            self._cast[key] = (self._window64.to(like.device, dtype), bases)
        return self._cast[key]

    def stft(self, x: Tensor, return_complex: bool = True) -> Tensor:
        """(..., time) -> (..., freq, frames) complex, or (..., freq, frames, 2) real."""
        backend = self._backend()
        window, bases = self._tensors(x, backend)
        return stft(x, self.n_fft, self.hop_length, window, self.center, backend, return_complex, bases)

    def istft(self, spec: Tensor, length: int | None = None) -> Tensor:
        """(..., freq, frames) complex or (..., freq, frames, 2) real -> (..., time)."""
        backend = self._backend()
        window, bases = self._tensors(spec, backend)
        return istft(spec, self.n_fft, self.hop_length, window, self.center, length, backend, bases)

    def forward(self, x: Tensor) -> Tensor:
        return self.stft(x)

    def n_frames(self, length: int) -> int:
        """Number of frames :meth:`stft` returns for ``length`` samples."""
        padded = length + (2 * (self.n_fft // 2) if self.center else 0)
        return 1 + (padded - self.n_fft) // self.hop_length

    def extra_repr(self) -> str:
        return (
            f"n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}, "
            f"center={self.center}, backend={self.backend!r}"
        )


def _as_pair(spec: Tensor) -> tuple[Tensor, Tensor]:
    if spec.is_complex():
        return spec.real, spec.imag
    if spec.shape[-1] != 2:
        raise ValueError("expected a complex tensor or a real one ending in a (real, imag) axis of 2")
    return spec[..., 0], spec[..., 1]


def magphase(spec: Tensor, power: float = 1.0, eps: float = 1e-9) -> tuple[Tensor, Tensor]:
    """Compressed magnitude ``|X| ** power`` and phase of a complex or (..., 2) spectrogram.

    ``eps`` inside the square root keeps the gradient finite at zero (as MP-SENet does).
    """
    real, imag = _as_pair(spec)
    mag = torch.sqrt(real * real + imag * imag + eps)
    return mag**power, torch.atan2(imag, real)


def polar(mag: Tensor, phase: Tensor, power: float = 1.0, return_complex: bool = True) -> Tensor:
    """Inverse of :func:`magphase`: undo the power law and rebuild the spectrogram."""
    mag = mag.clamp_min(0) ** (1.0 / power)
    real, imag = mag * torch.cos(phase), mag * torch.sin(phase)
    return torch.complex(real, imag) if return_complex else torch.stack([real, imag], dim=-1)


def compress(spec: Tensor, power: float = 0.3) -> Tensor:
    """Power-law compression ``|X| ** power`` with the phase kept.

    A complex tensor stays complex; a real tensor is taken as a magnitude. For spectrograms held
    as (..., 2) real pairs use :func:`magphase` and :func:`polar`.
    """
    if not spec.is_complex():
        return spec.clamp_min(0) ** power
    mag, phase = magphase(spec, power, eps=0.0)
    return polar(mag, phase)


def decompress(spec: Tensor, power: float = 0.3) -> Tensor:
    """Inverse of :func:`compress` with the same ``power``."""
    return compress(spec, 1.0 / power)


def enhance_magphase(
    wave: Tensor, transform: STFT, power: float, network: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
) -> Tensor:
    """Waveform (..., time) -> waveform of the same shape, through ``network`` over compressed
    magnitude and phase (B, F, frames) -> the same: what an offline spectral enhancer runs, in
    PyTorch or onnxruntime. The input is scaled to unit RMS (as in training) and zero-padded to at
    least ``n_fft`` samples (the centred STFT needs that much); the output is cut back to ``time``
    and the scale restored."""
    shape, n = wave.shape, wave.shape[-1]
    wave = wave.reshape(-1, n)  # (B, time)
    rms = wave.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-8)
    wave = F.pad(wave, (0, max(transform.n_fft - n, 0)))  # (B, max(time, n_fft))
    mag, phase = network(*magphase(transform.stft(wave / rms), power=power))  # (B, F, frames) each
    out = transform.istft(polar(mag, phase, power=power), length=wave.shape[-1])[..., :n]  # (B, time)
    return (out * rms).reshape(shape)


class StreamingSTFT(nn.Module):
    """Frame-by-frame causal STFT and overlap-add synthesis for streaming, with explicit state.

    ``analysis`` takes the newest ``k * hop_length`` samples (B, k hop) and the last ``n_fft - hop``
    samples before them (the analysis state) and returns the k frames' one-sided spectra
    (B, freq, k, 2) as (real, imag); ``synthesis`` turns (enhanced) frames back into ``k * hop_length``
    finished output samples, carrying the overlap tail as its state. Both are plain matrix
    products with the windowed DFT bases of :func:`dft_bases`, so they export to any graph.

    Frames are those of :func:`stft` with ``center=False`` on the signal left-padded with
    ``n_fft - hop`` zeros, and the output equals :func:`istft` of the same frames wherever the
    frames overlap fully: the output is the input delayed by ``n_fft - hop`` samples.
    """

    def __init__(self, n_fft: int, hop_length: int, window: Tensor) -> None:
        super().__init__()
        if not 0 < hop_length <= n_fft:
            raise ValueError(f"hop_length must be in 1..n_fft={n_fft}, got {hop_length}")
        self.n_fft, self.hop_length, self.n_freq = n_fft, hop_length, n_fft // 2 + 1
        forward, inverse = dft_bases(window)
        # the steady-state overlap-added squared window, one value per output sample of a hop
        squared = F.pad(window.to(torch.float64) ** 2, (0, -n_fft % hop_length)).view(-1, hop_length).sum(0)
        self.register_buffer("forward_basis", forward[:, 0].T.float(), persistent=False)  # (N, 2F)
        self.register_buffer(
            "inverse_basis", (inverse[:, 0] / squared.repeat(n_fft // hop_length + 1)[:n_fft]).float(), persistent=False
        )  # (2F, N)

    def initial_state(self, batch: int, device=None, dtype=torch.float32) -> tuple[Tensor, Tensor]:
        """Zero (analysis state, synthesis state), each (B, n_fft - hop)."""
        overlap = self.n_fft - self.hop_length
        return torch.zeros(batch, overlap, device=device, dtype=dtype), torch.zeros(
            batch, overlap, device=device, dtype=dtype
        )

    def analysis(self, samples: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """(B, k hop) new samples, (B, n_fft - hop) state -> (frames (B, freq, k, 2), new state)."""
        signal = torch.cat([state, samples], dim=-1)  # (B, n_fft - hop + k hop)
        frames = signal.unfold(-1, self.n_fft, self.hop_length)  # (B, k, N)
        spec = (frames @ self.forward_basis).unflatten(-1, (2, self.n_freq))  # (B, k, 2, F)
        return spec.permute(0, 3, 1, 2), signal[:, signal.shape[-1] - state.shape[-1] :]

    def synthesis(self, spec: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """(B, freq, k, 2) frames, (B, n_fft - hop) overlap state -> (B, k hop) finished samples, new state."""
        frames = spec.permute(0, 2, 3, 1).flatten(-2) @ self.inverse_basis  # (B, k, N) windowed
        k, hop = frames.shape[1], self.hop_length
        length = (k - 1) * hop + self.n_fft  # = n_fft - hop + k hop
        added = F.fold(frames.transpose(1, 2), (1, length), (1, self.n_fft), stride=(1, hop))  # overlap-add
        total = F.pad(state, (0, k * hop)) + added.view(-1, length)
        return total[:, : k * hop], total[:, k * hop :]
