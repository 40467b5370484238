"""Sample-level tokenizer of MEG-GPT: one token per sample per channel, at 250 Hz.

The estimator around ``tfsignal.models.sample_tokenizer.SampleNet`` (the network and its published
facts are described there). Huang et al. 2025, "MEG-GPT": training weights the tokens by a softmax
whose temperature is annealed from soft (1) to a hard one-hot (0), and the loss is the MSE of the
reconstruction.

Departures: plain softmax relaxation instead of Gumbel sampling; in the hard phase the one-hot is
used with a straight-through gradient; a codebook-diversity term (1 - normalised entropy of the
batch's mean token probabilities, weight ``diversity``) is added to the loss, because without it
training on the shared EEG used 13-17 of 128 tokens (usage 0.10-0.13, perplexity 5-7; with it,
in a 200-step probe, 0.52 and 39-46; the paper reports 65 of 128 and 19.2); after training the
kernels are refitted by least squares for the final hard tokens (``refit_kernels``).
Long signals are encoded in 10 s segments that each start with 1 s of the preceding signal to
settle the GRU state, so the work runs in parallel.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from tfsignal.models.sample_tokenizer import SampleConfig, SampleNet

from .base import TokenizerBase

PIECES_PER_PASS = 64  # signal pieces (of segment_s + warmup_s) the GRU reads at once in inference


class SampleTokenizer(TokenizerBase):
    """scikit-learn estimator around :class:`SampleNet` at 250 Hz.

    ``transform`` gives one token per sample at 250 Hz: (n_epochs, n_channels, n_samples_250) or
    (n_channels, n_samples_250); ``inverse_transform`` the reconstructed z-scored signal of the same
    shape; ``score``'s "pve" is measured on the signal.

    Preprocessing (``tfsignal.tokenizers.base``): channels in mne's ``info["bads"]`` left out, flat
    or clipped ones warned of, offset and linear drift subtracted, resampled to 250 Hz, mains hum at
    ``notch_freqs`` (default 50 and 60 Hz, with harmonics) removed, a zero-phase ``highpass`` (default
    0.5 Hz: slow drift; the shipped weights score the same held-out PVE with or without it), then
    each channel z-scored. Inputs of any length work (PVE 0.97 on one second of held-out EEG).
    """

    kind = "sample"
    sfreq_model = 250.0
    min_samples = 1

    def __init__(
        self,
        n_codes: int = 128,
        hidden: int = 128,
        kernel_size: int = 10,
        sfreq: float | None = None,
        highpass: float | None = 0.5,
        notch_freqs: tuple[float, ...] | None = (50.0, 60.0),
        window_s: float = 2.0,
        batch_size: int = 64,
        max_steps: int = 2000,
        anneal_fraction: float = 0.6,
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        max_minutes: float | None = None,
        segment_s: float = 10.0,
        diversity: float = 1.0,
        refit_kernels: bool = True,
        refit_samples: int = 500_000,
        warmup_s: float = 1.0,
        random_state: int = 0,
        device: str = "cpu",
        progress: bool = True,
        inference_batch_samples: int = 2_000_000,
        n_jobs: int | None = None,
        pretrained: str | None = None,
        fine_tune: bool = False,
    ) -> None:
        self.n_codes, self.hidden, self.kernel_size = n_codes, hidden, kernel_size
        self.sfreq, self.window_s, self.batch_size, self.max_steps = sfreq, window_s, batch_size, max_steps
        self.anneal_fraction, self.lr, self.weight_decay, self.max_minutes = (
            anneal_fraction,
            lr,
            weight_decay,
            max_minutes,
        )
        self.segment_s, self.warmup_s, self.random_state = segment_s, warmup_s, random_state
        self.diversity, self.refit_kernels, self.refit_samples = diversity, refit_kernels, refit_samples
        self.device, self.progress, self.inference_batch_samples = device, progress, inference_batch_samples
        self.n_jobs = n_jobs
        self.highpass, self.notch_freqs = highpass, notch_freqs
        self.pretrained, self.fine_tune = pretrained, fine_tune

    def _build(self, config: dict | None = None) -> SampleNet:
        if config is None:
            config = {"n_codes": self.n_codes, "hidden": self.hidden, "kernel_size": self.kernel_size}
        known = {f.name for f in dataclasses.fields(SampleConfig)}
        return SampleNet(SampleConfig(**{k: v for k, v in config.items() if k in known}))

    def _normalise(self, data: np.ndarray) -> np.ndarray:
        std = data.std(axis=-1, keepdims=True)
        return (data - data.mean(axis=-1, keepdims=True)) / np.where(std > 0, std, 1.0)

    def _train_step(self, batch: Tensor, progress: float) -> Tensor:
        # temperature falls linearly from 1 to 0 over the first anneal_fraction of training, then stays hard
        temperature = max(0.0, 1.0 - progress / self.anneal_fraction)
        return self.network_.loss(batch, temperature, self.diversity)

    def _after_fit(self, signals: np.ndarray, rng: np.random.Generator) -> None:
        """Refit the token kernels and bias by least squares for the tokens the encoder now picks.

        Training ends with hard tokens but kernels learned partly under soft weights; with the
        tokens fixed the reconstruction is linear in the kernels, so the best kernels for them
        are a ridge regression on (up to) ``refit_samples`` training samples."""
        if not self.refit_kernels:
            return
        from scipy import sparse

        net, k = self.network_, self.network_.config.kernel_size
        length = min(signals.shape[-1], 2500)
        rows = rng.choice(len(signals), size=min(len(signals), max(1, self.refit_samples // length)), replace=False)
        x = torch.from_numpy(np.ascontiguousarray(signals[rows, :length]))
        with torch.inference_mode():
            tokens = self._encode(x).numpy()  # (R, L)
        # out[t] = bias + sum_j kernels[tokens[t + j - (k - 1) // 2], j]: one column per (token, lag)
        padded = np.pad(tokens, ((0, 0), ((k - 1) // 2, k // 2)), constant_values=-1)
        cols, keep = [], []
        for j in range(k):
            shifted = padded[:, j : j + length].ravel()
            keep.append(shifted >= 0)
            cols.append(np.where(shifted >= 0, shifted * k + j, 0))
        keep, cols = np.stack(keep, 1), np.stack(cols, 1)  # (N, k)
        n = keep.shape[0]
        design = sparse.csr_matrix(
            (
                np.concatenate([keep.ravel().astype(np.float64), np.ones(n)]),
                (
                    np.concatenate([np.repeat(np.arange(n), k), np.arange(n)]),
                    np.concatenate([cols.ravel(), np.full(n, net.n_codes * k)]),
                ),
            ),
            shape=(n, net.n_codes * k + 1),
        )
        gram = (design.T @ design).toarray() + 1e-3 * np.eye(design.shape[1])
        solution = np.linalg.solve(gram, design.T @ x.numpy().ravel().astype(np.float64))
        with torch.no_grad():
            net.kernels.copy_(torch.from_numpy(solution[:-1].reshape(net.n_codes, k)))
            net.bias.fill_(float(solution[-1]))

    def _encode(self, signals: Tensor) -> Tensor:
        segment = int(self.segment_s * self.sfreq_model)
        warmup = int(self.warmup_s * self.sfreq_model)
        batch, length = signals.shape
        if length <= segment + warmup:
            return self.network_.logits(signals).argmax(-1)
        # (B, warmup + n * segment): zeros in front, zeros at the end to a whole number of segments
        n_segments = -(-length // segment)
        padded = F.pad(signals, (warmup, n_segments * segment - length))
        pieces = padded.unfold(-1, warmup + segment, segment).reshape(-1, warmup + segment)  # (B * n, w + s)
        # PIECES_PER_PASS at a time: the GRU's activations take ~7 MB per piece, so this bounds memory
        tokens = [self.network_.logits(part).argmax(-1)[:, warmup:] for part in pieces.split(PIECES_PER_PASS)]
        return torch.cat(tokens).reshape(batch, -1)[:, :length]

    def _decode(self, tokens: Tensor) -> Tensor:
        return self.network_.decode(tokens)

    def _target(self, signals: Tensor) -> Tensor:
        return signals
