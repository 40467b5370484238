"""TFM-Tokenizer: single-channel EEG to one discrete time-frequency motif token per 0.5 s.

The estimator around ``tfsignal.models.tfm_tokenizer.TFMNet`` (the network, its published
architecture and departures are described there). Pradeepkumar et al., "Single-channel EEG
tokenization through time-frequency modeling", ICLR 2026: the input is resampled to 200 Hz, and each
channel is divided by its 95th percentile of |x| and tokenised alone.

The default estimator is a small preset (1024 codes x 32 dims, 2-layer decoder) that trains on a
CPU, with a half-width "fast" preset beside it; ``TFMTokenizer.from_preset("paper")`` builds the
published size (8192 codes x 64 dims, 8-layer decoder).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from torch import Tensor

from tfsignal.models.tfm_tokenizer import TFMConfig, TFMNet

from .base import TokenizerBase

PRESETS = {
    "paper": dict(n_codes=8192, dim=64, heads=8, freq_depth=2, temporal_depth=2, decoder_depth=8, dropout=0.2),
    "small": dict(n_codes=1024, dim=32, heads=4, freq_depth=1, temporal_depth=2, decoder_depth=2, dropout=0.1),
}
# "small" at half the width (code size 16): the shipped "tfm-fast", about twice as fast to run
PRESETS["fast"] = {**PRESETS["small"], "dim": 16, "heads": 2}


class TFMTokenizer(TokenizerBase):
    """scikit-learn estimator around :class:`TFMNet` (defaults: the "small" preset).

    ``transform`` gives one token per 0.5 s per channel: (n_epochs, n_channels, n_tokens), or
    (n_channels, n_tokens) for continuous data. ``inverse_transform`` gives the decoded magnitude
    spectrogram of the normalised signal, (..., 100, n_tokens); ``score``'s "pve" is measured on that
    spectrogram.

    Preprocessing (``tfsignal.tokenizers.base``): channels in mne's ``info["bads"]`` left out, flat
    or clipped ones warned of, offset and linear drift subtracted, resampled to 200 Hz, mains hum at
    ``notch_freqs`` (default 50 and 60 Hz) removed, a zero-phase ``highpass`` (default 0.03 Hz),
    then each channel divided by its 95th percentile of |x|. The shipped weights were trained on
    unfiltered recordings and reconstruct the sub-hertz band too: a 0.5 Hz high-pass makes them
    immune to faster drift but costs PVE where that band is strong (0.82 -> 0.68 on a frontal channel
    full of eye movements), so drift faster than ~0.03 Hz still changes TFM tokens; pass
    ``highpass=0.5`` for recordings that drift (unreferenced DC amplifiers). Inputs must last 2 s:
    on one second (a single frame) held-out PVE ranged from -0.45 to 0.59 (0.44 or more on 2 s).

    >>> tok = TFMTokenizer(sfreq=160.0, max_steps=500).fit(X_train)        # arrays need sfreq
    >>> tokens = tok.transform(epochs)                                     # mne.Epochs work as-is
    >>> TFMTokenizer.load("tfm")                                           # shipped weights
    """

    kind = "tfm"
    sfreq_model = 200.0
    min_samples = 400  # on 1 s the shipped tfm-fast explained less than nothing of some recordings

    def __init__(
        self,
        n_codes: int = 1024,
        dim: int = 32,
        heads: int = 4,
        freq_depth: int = 1,
        temporal_depth: int = 2,
        decoder_depth: int = 2,
        dropout: float = 0.1,
        sfreq: float | None = None,
        highpass: float | None = 0.03,
        notch_freqs: tuple[float, ...] | None = (50.0, 60.0),
        window_s: float = 10.0,
        batch_size: int = 32,
        max_steps: int = 2000,
        lr: float = 2e-3,
        weight_decay: float = 0.01,
        max_minutes: float | None = None,
        random_state: int = 0,
        device: str = "cpu",
        progress: bool = True,
        inference_batch_samples: int = 2_000_000,
        n_jobs: int | None = None,
        pretrained: str | None = None,
        fine_tune: bool = False,
    ) -> None:
        self.n_codes, self.dim, self.heads = n_codes, dim, heads
        self.freq_depth, self.temporal_depth, self.decoder_depth, self.dropout = (
            freq_depth,
            temporal_depth,
            decoder_depth,
            dropout,
        )
        self.sfreq, self.window_s, self.batch_size, self.max_steps = sfreq, window_s, batch_size, max_steps
        self.lr, self.weight_decay, self.max_minutes, self.random_state = lr, weight_decay, max_minutes, random_state
        self.device, self.progress, self.inference_batch_samples = device, progress, inference_batch_samples
        self.n_jobs = n_jobs
        self.highpass, self.notch_freqs = highpass, notch_freqs
        self.pretrained, self.fine_tune = pretrained, fine_tune

    @classmethod
    def from_preset(cls, preset: str, **params) -> TFMTokenizer:
        """``"paper"`` (8192 x 64 codes, 8-layer decoder) or ``"small"``, with any parameter overridden."""
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
        return cls(**{**PRESETS[preset], **params})

    def _build(self, config: dict | None = None) -> TFMNet:
        if config is None:
            names = ("n_codes", "dim", "heads", "freq_depth", "temporal_depth", "decoder_depth", "dropout")
            config = {name: getattr(self, name) for name in names}
        known = {f.name for f in dataclasses.fields(TFMConfig)}
        return TFMNet(TFMConfig(**{k: v for k, v in config.items() if k in known}))

    def _normalise(self, data: np.ndarray) -> np.ndarray:
        scale = np.percentile(np.abs(data), 95, axis=-1, keepdims=True)
        return data / np.where(scale > 0, scale, 1.0)

    def _train_step(self, batch: Tensor, progress: float) -> Tensor:
        return self.network_.loss(batch)

    def _encode(self, signals: Tensor) -> Tensor:
        return self.network_.tokens(signals)

    def _decode(self, tokens: Tensor) -> Tensor:
        return self.network_.decode(self.network_.quantizer.lookup(tokens))

    def _target(self, signals: Tensor) -> Tensor:
        return self.network_.spectrogram(signals)
