"""Streaming MambAttention: a causal, low-cost MambAttention for real-time speech enhancement.

The idea of MambAttention (Kühne et al. 2025; models/mambattention.py) kept: each block mixes
along time and then along frequency, and one multi-head attention module with its LayerNorm is
shared by the two paths, with Mamba beside the attention on each path. What changes makes it
causal and about 15x cheaper per second of audio (the budget is 100 MMAC/s; GTCRN spends 33):

- causal framing: STFT 512/256 at 16 kHz (sqrt-Hann, 16 ms hop), frames end at the newest
  sample, so the algorithmic latency is one window (32 ms) and nothing looks ahead;
- few time-frequency positions: the low 65 bins (0-2 kHz) keep full resolution, the rest merge
  into 64 ERB bands (tfsignal.frontends.ERBBands), and two strided convolutions leave 33
  frequency tokens for the blocks (about 2,000 positions a second, GTCRN's count);
- time path: attention over a sliding window of the last ``window`` frames (a fixed-size key /
  value cache when streaming) and a forward-only Mamba that carries its conv and SSM state;
  frequency path: full attention and a bidirectional Mamba over the tokens of the current frame;
- decoder: transposed convolutions with encoder skips give a complex ratio mask on the 129 bands,
  spread back onto the 257 bins and applied to the noisy spectrum (a departure from the paper's
  magnitude mask + phase decoder, which cost two dense decoders at full resolution);
- an optional frame path (``frame_dim`` > 0, a departure): the tokens of each frame flattened into
  one vector and a forward Mamba over frames, so the time context also spans frequency; each
  token's own time path is only ``channels`` wide;
- normalisation that needs no future: BatchNorm (a fixed affine map at inference) in the encoder
  and decoder, LayerNorm / RMSNorm per position in the blocks (the paper's InstanceNorm averages
  over the whole utterance).

Shapes: B batch, C channels, T frames, F' frequency tokens, F = n_fft // 2 + 1 bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tfsignal.frontends import ERBBands, StreamingSTFT, istft, make_window, stft
from tfsignal.nn import BiMamba, MambaBlock, MultiHeadAttention

from .base import Model, port
from .registry import register


@dataclass
class Config:
    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    compress_power: float = 0.3  # the network sees |X|**0.3 and the compressed real / imaginary parts
    erb_low: int = 65  # bins kept at full resolution (0-2 kHz at 16 kHz)
    erb_bands: int = 64  # ERB bands the bins above erb_low merge into
    channels: int = 16
    n_blocks: int = 2
    heads: int = 2
    window: int = 32  # frames the time attention sees, the current one included (0.5 s at hop 256)
    d_state: int = 8
    d_conv: int = 4
    expand: int = 1
    frame_dim: int = 0  # > 0: a frame path (FramePath) of this width after the blocks; 0: none
    norm_eps: float = 1e-5
    scan_backend: str = "auto"


# --------------------------------------------------------------------------- encoder / decoder


def conv_bn_act(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, nn.BatchNorm2d(channels), nn.PReLU(channels))


def down(c_in: int, c_out: int) -> nn.Sequential:
    """Halve the frequency axis of (B, C, T, F'); no time context, so nothing to carry when streaming."""
    return conv_bn_act(nn.Conv2d(c_in, c_out, (1, 5), stride=(1, 2), padding=(0, 2)), c_out)


def up(c_in: int, c_out: int) -> nn.ConvTranspose2d:
    """Double the frequency axis: 2 F' - 1 positions from F'."""
    return nn.ConvTranspose2d(c_in, c_out, (1, 5), stride=(1, 2), padding=(0, 2))


# --------------------------------------------------------------------------------------- blocks


class CausalTFBlock(nn.Module):
    """Time then frequency mixing on (B, C, T, F'), one LayerNorm + attention shared by both paths."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        c = cfg.channels
        mamba = dict(d_state=cfg.d_state, d_conv=cfg.d_conv, expand=cfg.expand, scan_backend=cfg.scan_backend)
        self.window = cfg.window
        self.norm = nn.LayerNorm(c)
        self.attn = MultiHeadAttention(c, cfg.heads)
        self.time_mamba = MambaBlock(c, norm_eps=cfg.norm_eps, **mamba)  # forward in time only
        self.freq_mamba = BiMamba(c, norm_eps=cfg.norm_eps, **mamba)
        self.time_out = nn.Linear(c, c)
        self.freq_out = nn.Linear(2 * c, c)

    def initial_state(self, batch_tokens: int, device=None) -> list[Tensor]:
        """Zero streaming state for B * F' time sequences: attention cache (3) + Mamba conv and SSM state."""
        return [
            *self.attn.window_cache(batch_tokens, self.window, device),
            *self.time_mamba.mixer.initial_state(batch_tokens, device),
        ]

    def _freq(self, x: Tensor) -> Tensor:
        """x (N, F', C) -> same: full attention and bidirectional Mamba over the tokens of each frame."""
        x = x + self.attn(self.norm(x))
        return x + self.freq_out(self.freq_mamba(x))

    def forward(self, x: Tensor) -> Tensor:
        b, c, t, f = x.shape
        x = x.permute(0, 3, 2, 1).reshape(b * f, t, c)  # (B F', T, C)
        x = x + self.attn.windowed(self.norm(x), self.window)[0]
        x = x + self.time_out(self.time_mamba(x))
        x = x.view(b, f, t, c).transpose(1, 2).reshape(b * t, f, c)  # (B T, F', C)
        return self._freq(x).view(b, t, f, c).permute(0, 3, 1, 2)  # (B, C, T, F')

    def stream(self, x: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """Frames (B, C, T, F') that continue the ones ``state`` has seen -> (same shape, new state).
        Block by block from :meth:`initial_state` this equals ``forward`` (inference only)."""
        b, c, t, f = x.shape
        x = x.permute(0, 3, 2, 1).reshape(b * f, t, c)  # (B F', T, C)
        attended, cache = self.attn.windowed(self.norm(x), self.window, tuple(state[:3]))
        x = x + attended
        y, mamba_state = self.time_mamba.stream(x, tuple(state[3:]))
        x = x + self.time_out(y)
        x = x.view(b, f, t, c).transpose(1, 2).reshape(b * t, f, c)  # (B T, F', C)
        return self._freq(x).view(b, t, f, c).permute(0, 3, 1, 2), [*cache, *mamba_state]

    def step(self, x: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """One frame (B, C, F') and its state -> (B, C, F') and the new state; equals ``forward``.
        Plain per-step ops, as the exported streaming graph runs them."""
        b, c, f = x.shape
        x = x.transpose(1, 2).reshape(b * f, 1, c)  # (B F', 1, C)
        attended, cache = self.attn.windowed(self.norm(x), self.window, tuple(state[:3]))
        x = (x + attended)[:, 0]  # (B F', C)
        y, mamba_state = self.time_mamba.step(x, tuple(state[3:]))
        x = x + self.time_out(y)
        x = self._freq(x.view(b, f, c))  # (B, F', C)
        return x.transpose(1, 2), [*cache, *mamba_state]


class FramePath(nn.Module):
    """A causal recurrence over whole frames: the F' tokens of a frame (C values each) flattened and
    projected to ``frame_dim``, one forward Mamba over time, projected back and added to every token.
    The output projection starts at zero, so adding the path to trained weights changes nothing
    until it is trained. Costs about 2 C F' frame_dim MACs a frame, not per token."""

    def __init__(self, cfg: Config, tokens: int) -> None:
        super().__init__()
        width = cfg.channels * tokens
        self.inp = nn.Linear(width, cfg.frame_dim)
        self.mamba = MambaBlock(
            cfg.frame_dim,
            norm_eps=cfg.norm_eps,
            d_state=cfg.d_state,
            d_conv=cfg.d_conv,
            expand=2,
            scan_backend=cfg.scan_backend,
        )
        self.out = nn.Linear(cfg.frame_dim, width)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def initial_state(self, batch: int, device=None) -> list[Tensor]:
        return list(self.mamba.mixer.initial_state(batch, device))

    def _project(self, x: Tensor) -> Tensor:
        """x (B, C, T, F') -> each frame flattened and projected, (B, T, D)."""
        b, c, t, f = x.shape
        return self.inp(x.permute(0, 2, 1, 3).reshape(b, t, c * f))

    def _add(self, x: Tensor, h: Tensor) -> Tensor:
        """x (B, C, T, F') + the projection of h (B, T, D) -> (B, C, T, F')."""
        b, c, t, f = x.shape
        return x + self.out(h).view(b, t, c, f).permute(0, 2, 1, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self._add(x, self.mamba(self._project(x)))

    def stream(self, x: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        h, state = self.mamba.stream(self._project(x), tuple(state))
        return self._add(x, h), list(state)

    def step(self, x: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """One frame (B, C, F') -> same shape and the new state."""
        b, c, f = x.shape
        h, state = self.mamba.step(self.inp(x.reshape(b, c * f)), tuple(state))  # (B, D)
        return x + self.out(h).view(b, c, f), list(state)


# ---------------------------------------------------------------------------------------- model


class StreamingMambAttention(Model):
    Config = Config

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        if config.n_fft % config.hop_length:
            raise ValueError(f"n_fft ({config.n_fft}) must be a multiple of hop_length ({config.hop_length})")
        self.sample_rate = config.sample_rate
        self.latency = config.n_fft - config.hop_length  # the stream's output lags its input by this
        c = config.channels
        self.register_buffer("window", make_window(torch.hann_window(config.n_fft).sqrt(), config.n_fft).float(), False)
        self.erb = ERBBands(config.sample_rate, config.n_fft, config.erb_low, config.erb_bands)
        self.enc1 = down(3, c)  # 129 -> 65 bands
        self.enc2 = down(c, c)  # 65 -> 33 tokens
        self.blocks = nn.ModuleList(CausalTFBlock(config) for _ in range(config.n_blocks))
        self.frame_path = FramePath(config, self._tokens()) if config.frame_dim else None
        self.dec2 = conv_bn_act(up(c, c), c)  # 33 -> 65
        self.dec1 = up(c, 2)  # 65 -> 129: (real, imag) of the mask
        nn.init.zeros_(self.dec1.weight)  # start as the identity: mask 1 + 0j on every bin
        with torch.no_grad():
            self.dec1.bias.copy_(torch.tensor([1.0, 0.0]))

    # -- spectra (B, F, T, 2) in, spectra out

    def features(self, spec: Tensor) -> Tensor:
        """Noisy spectrum (B, F, T, 2) -> network input (B, 3, T, bands): compressed magnitude,
        real and imaginary parts, merged into ERB bands."""
        mag = (spec.pow(2).sum(-1) + 1e-12).sqrt()  # (B, F, T)
        scaled = spec * mag.pow(self.config.compress_power - 1)[..., None]  # (B, F, T, 2)
        x = torch.cat([mag.pow(self.config.compress_power)[..., None], scaled], dim=-1)  # (B, F, T, 3)
        return self.erb.merge(x.permute(0, 3, 2, 1))  # (B, 3, T, bands)

    def apply_mask(self, x: Tensor, skips: tuple[Tensor, Tensor], spec: Tensor) -> Tensor:
        """Block output (B, C, T, F') -> complex mask on the bins, applied to ``spec`` (B, F, T, 2)."""
        mask = self.dec1(self.dec2(x + skips[1]) + skips[0])  # (B, 2, T, bands)
        mask = self.erb.expand(mask).permute(0, 3, 2, 1)  # (B, F, T, 2)
        real = spec[..., 0] * mask[..., 0] - spec[..., 1] * mask[..., 1]
        imag = spec[..., 0] * mask[..., 1] + spec[..., 1] * mask[..., 0]
        return torch.stack([real, imag], dim=-1)

    def forward(self, spec: Tensor) -> Tensor:
        """Noisy spectrum (B, F, T, 2) of :meth:`analyse` -> enhanced spectrum, same shape. Causal:
        output frame t depends on input frames 0..t only."""
        skip1 = self.enc1(self.features(spec))  # (B, C, T, 65)
        skip2 = x = self.enc2(skip1)  # (B, C, T, 33)
        for block in self.blocks:
            x = block(x)
        if self.frame_path is not None:
            x = self.frame_path(x)
        return self.apply_mask(x, (skip1, skip2), spec)

    # -- waveforms

    def frames(self, length: int) -> int:
        """STFT frames for ``length`` samples: enough that every sample's output is complete."""
        return -(-length // self.config.hop_length) + self.latency // self.config.hop_length

    def analyse(self, wave: Tensor) -> Tensor:
        """(B, time) -> causal spectrum (B, F, T, 2): the signal is left-padded by ``latency`` samples
        and right-padded with zeros to whole frames, so frame t ends at sample (t + 1) * hop."""
        n_fft, hop = self.config.n_fft, self.config.hop_length
        padded_length = (self.frames(wave.shape[-1]) - 1) * hop + n_fft
        wave = F.pad(wave, (self.latency, padded_length - self.latency - wave.shape[-1]))
        return stft(wave, n_fft, hop, self.window, center=False, return_complex=False)

    def synthesise(self, spec: Tensor, length: int) -> Tensor:
        """Spectrum (B, F, T, 2) -> waveform (B, length) aligned with the input of :meth:`analyse`."""
        wave = istft(spec, self.config.n_fft, self.config.hop_length, self.window, center=False)
        return wave[..., self.latency : self.latency + length]

    @torch.no_grad()
    def enhance(self, wave: Tensor) -> Tensor:
        """Noisy waveform (..., time) at ``sample_rate`` -> enhanced waveform of the same shape.

        No level normalisation (it would need the whole file); the model is trained over a 40 dB
        range of input levels instead. Equal to :meth:`stream` fed the same samples. Runs without
        autograd.
        """
        shape = wave.shape
        wave = wave.reshape(-1, shape[-1])  # (B, time)
        return self.synthesise(self(self.analyse(wave)), shape[-1]).reshape(shape)

    # -- streaming

    def initial_state(self, batch: int = 1, device=None) -> list[Tensor]:
        """Zero state of :meth:`step_frame`: every block's attention cache and time-Mamba state, then
        the frame path's Mamba state."""
        tokens = batch * self._tokens()
        state = [s for block in self.blocks for s in block.initial_state(tokens, device)]
        return state + (self.frame_path.initial_state(batch, device) if self.frame_path is not None else [])

    def _split_state(self, state: list[Tensor]) -> tuple[list[list[Tensor]], list[Tensor]]:
        """The flat state -> (one list per block, the frame path's list)."""
        n_blocks = len(state) - (2 if self.frame_path is not None else 0)  # the frame path: conv, SSM
        per_block = n_blocks // len(self.blocks)
        return [state[i : i + per_block] for i in range(0, n_blocks, per_block)], state[n_blocks:]

    def _tokens(self) -> int:
        bands = self.config.erb_low + self.config.erb_bands
        return ((bands - 1) // 2 + 1 - 1) // 2 + 1

    def forward_stream(self, spec: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """Frames (B, F, T, 2) that continue the ones ``state`` has seen -> (enhanced frames, new state).
        Fed block by block from :meth:`initial_state` this equals ``forward`` on all the frames."""
        skip1 = self.enc1(self.features(spec))  # (B, C, T, 65)
        skip2 = x = self.enc2(skip1)  # (B, C, T, 33)
        (block_states, frame_state), new_state = self._split_state(state), []
        for block, block_state in zip(self.blocks, block_states):
            x, block_state = block.stream(x, block_state)
            new_state += block_state
        if self.frame_path is not None:
            x, frame_state = self.frame_path.stream(x, frame_state)
            new_state += frame_state
        return self.apply_mask(x, (skip1, skip2), spec), new_state

    def step_frame(self, frame: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """One noisy STFT frame (B, F, 2) and the state -> (enhanced frame (B, F, 2), new state): the
        streaming graph that ``tfsignal export --streaming`` writes. Equals :meth:`forward`."""
        spec = frame[:, :, None]  # (B, F, 1, 2)
        skip1 = self.enc1(self.features(spec))  # (B, C, 1, 65)
        skip2 = self.enc2(skip1)  # (B, C, 1, 33)
        x, new_state = skip2[:, :, 0], []
        block_states, frame_state = self._split_state(state)
        for block, block_state in zip(self.blocks, block_states):
            x, block_state = block.step(x, block_state)
            new_state += block_state
        if self.frame_path is not None:
            x, frame_state = self.frame_path.step(x, frame_state)
            new_state += frame_state
        return self.apply_mask(x[:, :, None], (skip1, skip2), spec)[:, :, 0], new_state

    def stream(self, channels: int = 1) -> EnhancerStream:
        """A stateful streaming enhancer of ``channels`` signals: ``process(samples)`` any number at a time."""
        return EnhancerStream(self, channels)

    def example_inputs(self, seconds: float = 1.0) -> tuple[Tensor]:
        frames = self.frames(round(seconds * self.sample_rate))
        return (torch.randn(1, self.config.n_fft // 2 + 1, frames, 2),)

    def onnx_io(self) -> dict:
        c = self.config
        spectra = "(batch, n_fft / 2 + 1, frames, 2): [..., 0] real, [..., 1] imaginary"
        return {
            "inputs": [port("spectrum", f"noisy spectrum {spectra}", batch=0, frames=2)],
            "outputs": [port("enhanced", f"enhanced spectrum {spectra}", batch=0, frames=2)],
            "resize": {"seconds": 1.37},
            "sample_rate": c.sample_rate,
            "n_fft": c.n_fft,
            "hop_length": c.hop_length,
            "delay_samples": self.latency,
            "preprocess": f"mono float32 in [-1, 1] at {c.sample_rate} Hz, no level normalisation; left-pad "
            f"{self.latency} zeros and right-pad to whole frames; frames of {c.n_fft} samples every "
            f"{c.hop_length} (not centred), times the square root of a periodic Hann window, rfft",
            "postprocess": f"irfft of each frame, times the same window, overlap-add at hop {c.hop_length}; drop "
            f"the first {self.latency} samples. For one frame per call with explicit states, export with "
            "--streaming instead",
        }


class EnhancerStream:
    """Streaming front of a :class:`StreamingMambAttention`: buffers samples into hops, runs one
    frame per hop through the carried state and returns finished samples.

    ``process`` takes (time,) samples, or (channels, time) for a stream of ``channels`` signals
    enhanced independently, any number at a time. The output is the enhanced input delayed by
    ``delay`` samples (n_fft - hop: 16 ms at 16 kHz); with the buffering of the current hop the
    algorithmic latency is one window (32 ms). ``flush`` returns the samples still inside the
    window, so that ``process`` over any block sizes followed by ``flush``, minus the first
    ``delay`` samples, equals ``model.enhance`` of the whole signal.
    """

    def __init__(self, model: StreamingMambAttention, channels: int = 1) -> None:
        cfg = model.config
        self.model, self.channels, self.hop, self.delay = model, channels, cfg.hop_length, model.latency
        self.sample_rate = model.sample_rate
        self.stft = StreamingSTFT(cfg.n_fft, cfg.hop_length, model.window.double()).to(model.window.device)
        self.reset()

    def reset(self) -> None:
        """Forget the signal so far: zero state, nothing buffered."""
        device = self.model.window.device
        self.analysis_state, self.synthesis_state = self.stft.initial_state(self.channels, device)
        self.state = self.model.initial_state(self.channels, device)
        self.pending = torch.zeros(self.channels, 0, device=device)
        self.received = 0
        self.one_d = self.channels == 1

    @torch.no_grad()
    def process(self, samples) -> Tensor:
        """Samples (time,) or (channels, time), any count, even zero -> the output samples they finish,
        shaped like the input."""
        samples = torch.as_tensor(samples, dtype=torch.float32, device=self.pending.device)
        one_d = self.one_d = samples.dim() == 1
        samples = samples.reshape(1, -1) if one_d else samples
        if samples.shape[0] != self.channels:
            raise ValueError(f"this stream carries {self.channels} channel(s), got {samples.shape[0]}")
        self.received += samples.shape[-1]
        self.pending = torch.cat([self.pending, samples], dim=-1)
        ready = self.pending.shape[-1] // self.hop * self.hop
        out = self.pending.new_zeros(self.channels, 0)
        if ready:  # all complete hops in one pass
            hops, self.pending = self.pending[:, :ready], self.pending[:, ready:]
            spec, self.analysis_state = self.stft.analysis(hops, self.analysis_state)  # (B, F, T, 2)
            spec, self.state = self.model.forward_stream(spec, self.state)
            out, self.synthesis_state = self.stft.synthesis(spec, self.synthesis_state)
        return out[0] if one_d else out

    def flush(self) -> Tensor:
        """Feed zeros until every received sample has left the window; returns those last samples,
        shaped as ``process`` returned them, and resets the stream for a new signal."""
        emitted = (self.received // self.hop) * self.hop
        wanted = self.received + self.delay - emitted
        one_d = self.one_d
        zeros = torch.zeros(self.channels, -(-wanted // self.hop) * self.hop - self.pending.shape[-1])
        tail = self.process(zeros)[:, :wanted]
        self.reset()
        return tail[0] if one_d else tail


register("mambattention-stream", StreamingMambAttention)
