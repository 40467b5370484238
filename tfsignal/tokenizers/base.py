"""What both tokenizers share: the estimator API, input handling, training, save and load.

A tokenizer is a scikit-learn transformer over EEG/MEG. ``X`` is an ``mne.io.Raw`` (continuous:
tokens come back as (n_channels, n_tokens)), an ``mne.Epochs`` (tokens (n_epochs, n_channels,
n_tokens)), or a float array of either shape with its sampling rate given as ``sfreq``. An mne object's
channels listed in ``info["bads"]`` are left out (its other non-brain channels too), so tokens come
back for the good EEG/MEG channels only, in their order.

Preprocessing, the same in ``fit``, ``transform`` and ``score`` (:func:`clean_signals`), channel by
channel and epoch by epoch, so tokens do not depend on units, montage, channel count, DC offset or
the amplifier's sampling rate:

1. flat or clipped channels (:func:`bad_channels`) are named in a :class:`ChannelWarning` and then
   tokenised like the others;
2. the fitted straight line is subtracted (DC offset and linear drift: ``x`` and ``x + c`` give
   the same tokens);
3. resampling to the tokenizer's rate by a polyphase filter whose low-pass stops aliasing
   (512-2048 Hz amplifiers included);
4. mains hum: at 50 and 60 Hz and their harmonics below the new Nyquist frequency
   (``notch_freqs``) the least-squares sinusoid is subtracted, then a notch takes what varies;
5. a zero-phase high-pass at ``highpass`` Hz for slow drift (0.5 Hz for the sample tokenizer;
   0.03 Hz for TFM, whose shipped weights learnt to reconstruct the sub-hertz band);
6. the tokenizer's own scaling (``_normalise``).

The first and last seconds of a recording carry the filters' edge effects. ``highpass=None`` and
``notch_freqs=None`` turn steps 5 and 4 off.

Subclasses define ``_build`` (the network), ``_normalise`` (per-channel scaling), ``_train_step``,
``_encode`` (signals -> tokens), ``_decode`` (tokens -> what the tokenizer reconstructs) and
``_target`` (the same quantity computed from signals, for ``score``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from scipy.signal import butter, detrend, freqz, iirnotch, sosfreqz
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from tfsignal import weights
from tfsignal.frontends import resample
from tfsignal.train.schedules import cosine_decay, linear_warmup
from tfsignal.train.trainer import TrainConfig, Trainer

NOTCH_QUALITY = 30.0  # centre frequency / bandwidth of the mains notches
FLAT_RATIO = 1e-4  # a channel whose sample-to-sample changes are this much smaller than the median is flat
CLIPPED_FRACTION = 0.01  # a channel with this share of its samples at its own extremes is clipped,
CLIPPED_SAMPLES = 10  # and at least this many


class ChannelWarning(UserWarning):
    """Channels that are flat or clipped: they are tokenised all the same, but their tokens carry no EEG."""


def shipped_tokenizers(kind: str | None = None) -> list[str]:
    """Names of the shipped tokenizers (of one kind, ``"tfm"`` or ``"sample"``, or all)."""
    names = weights.shipped("tokenizer")
    if kind is None:
        return names
    return [name for name in names if json.loads(weights.resolve(name).read_text()).get("tokenizer") == kind]


def load_tokenizer(name_or_path: str | os.PathLike, device: str = "cpu", kind: str | None = None):
    """A shipped tokenizer by name or a saved one by path, of whichever class its JSON names;
    ``kind`` ("tfm" or "sample") requires that class."""
    from . import SampleTokenizer, TFMTokenizer

    classes = {cls.kind: cls for cls in (TFMTokenizer, SampleTokenizer)}
    if kind is not None and kind not in classes:
        raise ValueError(f"tokenizer kind must be one of {', '.join(classes)}, got {kind!r}")
    config = weights.resolve(name_or_path, "tokenizer")
    found = json.loads(config.read_text()).get("tokenizer")
    if found not in classes:
        raise ValueError(f"{config}: not a tokenizer (expected 'tokenizer': one of {sorted(classes)})")
    if kind is not None and found != kind:
        raise ValueError(f"{name_or_path}: holds a {found} tokenizer, not a {kind} one")
    return classes[found].load(name_or_path, device=device)


def _is_mne(X) -> bool:
    return hasattr(X, "info") and hasattr(X, "get_data")


def as_epochs(X, sfreq: float | None) -> tuple[np.ndarray, float, bool]:
    """``X`` -> (data (n_epochs, n_channels, n_samples) float64, sampling rate, continuous?)."""
    if isinstance(X, (list, tuple)) and X and all(_is_mne(item) and hasattr(item, "events") for item in X):
        # scikit-learn's cross-validation indexes an mne.Epochs into a list of one-epoch Epochs
        parts = [as_epochs(item, sfreq) for item in X]
        if len({rate for _, rate, _ in parts}) > 1:
            raise ValueError("the Epochs in the list have different sampling rates")
        return np.concatenate([data for data, _, _ in parts]), parts[0][1], False
    if _is_mne(X):
        continuous = not hasattr(X, "events")
        picks = _good_data_picks(X)
        if len(picks) == 0:
            raise ValueError("the recording has no good EEG/MEG channels (all are missing or listed in info['bads'])")
        data = np.asarray(X.get_data(picks=picks), dtype=np.float64)
        rate = float(X.info["sfreq"])
        if sfreq is not None and not math.isclose(float(sfreq), rate):
            raise ValueError(f"sfreq={sfreq} was given but the recording says {rate} Hz")
    else:
        if sfreq is None:
            raise ValueError("arrays need their sampling rate: pass sfreq=... (Hz) to the tokenizer")
        if hasattr(X, "tocsr") or hasattr(X, "todense"):
            raise TypeError("sparse input is not supported: pass a dense array of signals")
        data, rate = np.asarray(X), float(sfreq)
        if data.dtype.kind == "c":
            raise ValueError("Complex data not supported: pass real-valued signals")
        if data.dtype.kind == "O":
            try:  # numbers stored as Python objects are numbers all the same
                data = data.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError("signals must be numbers (the argument must be a string or a number)") from None
        if data.dtype.kind not in "fiu":
            raise ValueError(f"expected a float array, got dtype {data.dtype}")
        data = data.astype(np.float64, copy=False)
        continuous = data.ndim == 2
        if data.ndim not in (2, 3):
            raise ValueError(
                f"expected (n_channels, n_samples) or (n_epochs, n_channels, n_samples), got shape {data.shape}"
                + ("; Reshape your data with x[None] for one channel" if data.ndim == 1 else "")
            )
    if data.size == 0:  # (in the words of scikit-learn's estimator checks)
        what = "feature(s)" if data.shape[-1] == 0 else "sample(s)"
        raise ValueError(f"Found array with 0 {what} (shape={data.shape}) while a minimum of 1 is required.")
    if continuous:
        data = data[None]
    if rate <= 0:
        raise ValueError(f"sampling rate must be positive, got {rate}")
    if not np.isfinite(data).all():
        raise ValueError("the data contain NaN or infinite values")
    return data, rate, continuous


def channel_names(X, n_channels: int) -> list[str]:
    """The names of the channels :func:`as_epochs` returns: an mne object's good data channels, else
    "channel 0", "channel 1", ..."""
    if isinstance(X, (list, tuple)) and X and _is_mne(X[0]):
        X = X[0]
    if _is_mne(X):
        return [X.ch_names[i] for i in _good_data_picks(X)]
    return [f"channel {i}" for i in range(n_channels)]


def _good_data_picks(X) -> np.ndarray:
    """Indices of an mne object's brain-data channels (EEG, MEG, sEEG, ECoG, DBS, fNIRS, CSD) that
    ``info["bads"]`` does not list."""
    import mne

    kinds = dict(meg=True, eeg=True, seeg=True, ecog=True, dbs=True, fnirs=True, csd=True)
    return mne.pick_types(X.info, **kinds, ref_meg=False, exclude="bads")


def bad_channels(data: np.ndarray) -> tuple[list[int], list[int]]:
    """(flat, clipped) channel indices of ``data`` (n_epochs, n_channels, n_samples), as recorded.

    Flat: the rms change from one sample to the next (which an offset does not affect and a slow
    drift hardly does) is zero, or under ``FLAT_RATIO`` of the median channel's. Clipped: not flat,
    and at least ``CLIPPED_FRACTION`` (and ``CLIPPED_SAMPLES``) of the samples sit exactly at the
    channel's own minimum or maximum, where an amplifier or converter saturates; a channel that
    merely peaks does so at a few samples. Channels of fewer than ``CLIPPED_SAMPLES`` samples are
    too short to judge."""
    if data.shape[0] * data.shape[-1] < CLIPPED_SAMPLES:
        return [], []
    per_channel = data.transpose(1, 0, 2).reshape(data.shape[1], -1)  # (n_channels, n_epochs * n_samples)
    steps = np.sqrt((np.diff(data, axis=-1) ** 2).mean(axis=(0, -1)))  # rms change from sample to sample
    flat = (steps == 0) | (steps < FLAT_RATIO * np.median(steps))
    low, high = per_channel.min(axis=-1, keepdims=True), per_channel.max(axis=-1, keepdims=True)
    at_rails = ((per_channel == low) | (per_channel == high)).sum(axis=-1)
    clipped = ~flat & (at_rails >= max(CLIPPED_FRACTION * per_channel.shape[-1], CLIPPED_SAMPLES))
    return np.flatnonzero(flat).tolist(), np.flatnonzero(clipped).tolist()


def clean_signals(
    rows: np.ndarray, rate: float, target: float, highpass: float | None, notch_freqs: Sequence[float] | None
) -> np.ndarray:
    """Signals (rows, n_samples) at ``rate`` -> at ``target`` Hz, with offset, drift and mains hum removed.

    1. The straight line fitted to each row is subtracted: a DC offset (millivolts on unreferenced
       amplifiers, against tens of microvolts of EEG) and a linear drift leave exactly, and the
       resampler, which pads with zeros, does not ring at the ends.
    2. Resampled to ``target`` (:func:`tfsignal.frontends.resample`).
    3. At each of ``notch_freqs`` and its harmonics below 0.95 x the Nyquist frequency, the
       least-squares sinusoid is subtracted: a steady mains hum leaves in full, ends included.
    4. Filtered at zero phase in the frequency domain, each signal mirrored at both ends first: the
       gain is the squared magnitude of a 4th-order Butterworth high-pass at ``highpass`` Hz (slow
       drift) times that of a notch (quality factor 30: about 2 Hz wide at 50 Hz) at each of those
       frequencies (hum that varies). That is what filtering forwards then backwards does away from
       the ends; near them, mirroring spares the decaying offset that an IIR filter's start-up state
       adds under a slow high-pass.
    """
    rows = detrend(rows, axis=-1, type="linear")
    rows = resample(rows, rate, target)
    notches = [f for base in notch_freqs or () for f in np.arange(base, 0.95 * target / 2, base)]
    time = np.arange(rows.shape[-1]) / target
    for freq in notches:  # a steady hum leaves whole, ends included, which a notch cannot do
        waves = np.stack([np.cos(2 * np.pi * freq * time), np.sin(2 * np.pi * freq * time)])  # (2, n_samples)
        amplitudes = np.linalg.lstsq(waves.T, rows.T, rcond=None)[0]  # (2, rows)
        rows = rows - amplitudes.T @ waves
    if not highpass and not notches:
        return rows
    n = rows.shape[-1]
    pad = min(n - 1, int(target * max(2.0 / highpass if highpass else 0.0, 1.0)))
    mirrored = np.pad(rows, ((0, 0), (pad, pad)), mode="reflect")
    freqs = np.fft.rfftfreq(mirrored.shape[-1], 1.0 / target)
    gain = np.ones_like(freqs)
    if highpass:
        sos = butter(4, highpass, btype="highpass", fs=target, output="sos")
        gain *= np.abs(sosfreqz(sos, worN=freqs, fs=target)[1]) ** 2
    for freq in notches:
        b, a = iirnotch(freq, NOTCH_QUALITY, fs=target)
        gain *= np.abs(freqz(b, a, worN=freqs, fs=target)[1]) ** 2
    filtered = np.fft.irfft(np.fft.rfft(mirrored, axis=-1) * gain, mirrored.shape[-1], axis=-1)
    return filtered[..., pad : pad + n]


class TokenizerBase(TransformerMixin, BaseEstimator):
    """Shared machinery; see the module docstring. Subclasses set ``kind``, ``sfreq_model`` and
    ``min_samples`` and implement the hooks."""

    kind = ""  # name in saved JSON

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # signals in, integer tokens out
        return tags

    sfreq_model = 200.0  # rate the network runs at
    min_samples = 1  # shortest input (at sfreq_model) that gives one token

    # ---- hooks -----------------------------------------------------------------------------------
    def _build(self) -> torch.nn.Module:
        raise NotImplementedError

    def _normalise(self, data: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _train_step(self, batch: torch.Tensor, progress: float) -> torch.Tensor:
        raise NotImplementedError

    def _encode(self, signals: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _decode(self, tokens: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _target(self, signals: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # ---- input -----------------------------------------------------------------------------------
    def _prepare(self, X, sfreq: float | None = None) -> tuple[np.ndarray, bool]:
        """``X`` -> (normalised float32 (n_epochs, n_channels, n_samples) at ``sfreq_model``, continuous?);
        an array's rate is ``sfreq``, else the ``sfreq`` parameter."""
        data, rate, continuous = as_epochs(X, self.sfreq if sfreq is None else sfreq)
        flat, clipped = bad_channels(data)
        if flat or clipped:
            names = channel_names(X, data.shape[1])
            found = [
                f"{kind}: {', '.join(names[i] for i in rows)}"
                for kind, rows in (("flat", flat), ("clipped", clipped))
                if rows
            ]
            warnings.warn(
                f"channels carrying no EEG are tokenised all the same ({'; '.join(found)})",
                ChannelWarning,
                stacklevel=3,
            )
        lead, rows = data.shape[:-1], data.reshape(-1, data.shape[-1])

        def prepare(block: np.ndarray) -> np.ndarray:  # (rows, samples) -> resampled, cleaned, normalised float32
            block = clean_signals(block, rate, self.sfreq_model, self.highpass, self.notch_freqs)
            return self._normalise(block).astype(np.float32)

        size = -(-len(rows) // self._workers(len(rows)))
        blocks = self._map(prepare, [rows[i : i + size] for i in range(0, len(rows), size)])
        out = np.concatenate(blocks)
        if out.shape[-1] < self.min_samples:
            seconds = self.min_samples / self.sfreq_model
            raise ValueError(
                f"inputs must be at least {seconds:g} s long, got {out.shape[-1] / self.sfreq_model:g} s "
                f"(n_features = {data.shape[-1]} samples at {rate:g} Hz)"
            )
        return out.reshape(*lead, -1), continuous

    def _workers(self, rows: int) -> int:
        """Worker threads for ``rows`` independent signals: ``n_jobs`` (default: torch's thread count)
        on the CPU, never more than the rows, one on other devices."""
        if str(self.device) != "cpu":
            return 1
        return max(1, min(rows, self.n_jobs or torch.get_num_threads()))

    def _map(self, fn, items: list, desc: str | None = None) -> list:
        """``[fn(item) for item in items]`` on :meth:`_workers` threads, each running torch
        single-threaded (the networks' operations are small, so splitting the signals between the
        cores scales better than splitting each operation); a progress bar for ``desc`` when long."""
        workers = min(self._workers(len(items)), len(items))
        bar = dict(total=len(items), desc=desc, disable=not (desc and self.progress and len(items) > 8), leave=False)
        if workers <= 1:
            return list(tqdm(map(fn, items), **bar))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # threads started from here on run their operations single-threaded
        try:
            with ThreadPoolExecutor(workers) as pool:
                return list(tqdm(pool.map(fn, items), **bar))
        finally:
            torch.set_num_threads(threads)

    # ---- training --------------------------------------------------------------------------------
    def fit(self, X, y=None, sfreq: float | None = None):
        """Train the tokenizer on ``X`` (its channels are pooled: every channel is a training signal).

        With ``pretrained`` (a shipped name or a saved tokenizer's path) the network is those weights,
        architecture included (the architecture parameters given here are then ignored): ``fit``
        returns at once, and trains them further on ``X`` only with ``fine_tune=True``. So a
        pipeline around ``TFMTokenizer(pretrained="tfm")`` uses the shipped tokens in every fold of a
        cross-validation. ``sfreq`` is the rate of an array ``X`` for this call (else the parameter).
        """
        if self.pretrained is not None:
            self.network_, self.n_steps_ = self._pretrained_network()
            self.loss_curve_ = []
            if not self.fine_tune:
                return self
        data, _ = self._prepare(X, sfreq)
        signals = data.reshape(-1, data.shape[-1])  # (n_epochs * n_channels, n_samples)
        window = min(int(round(self.window_s * self.sfreq_model)), signals.shape[-1])
        rng = np.random.default_rng(self.random_state)
        torch.manual_seed(self.random_state)
        steps_before = 0
        if self.pretrained is None:
            self.network_ = self._build().to(self.device)
        else:
            steps_before = self.n_steps_

        def windows(epoch: int):  # endless random windows of the training signals
            while True:
                rows = rng.integers(len(signals), size=self.batch_size)
                offsets = rng.integers(signals.shape[-1] - window + 1, size=self.batch_size)
                yield torch.from_numpy(np.stack([signals[r, o : o + window] for r, o in zip(rows, offsets)]))

        # Progress runs by steps, or by time when max_minutes will stop training first, so the
        # learning-rate schedule (and the sample tokenizer's annealing) always completes.
        config = TrainConfig.in_process(
            steps=self.max_steps,
            minutes=self.max_minutes,
            lr=self.lr,
            weight_decay=self.weight_decay,
            grad_clip=1.0,
            log_every=1,
            progress_bar=self.progress,
            desc=f"fit {self.kind}",
            leave=False,
        )
        trainer = Trainer(
            self.network_,
            lambda network, batch: self._train_step(batch, trainer.progress),
            windows,
            config,
            device=self.device,
            schedule=lambda step, progress: linear_warmup(progress, 0.05) * cosine_decay(progress),
        )
        trainer.fit()
        self.loss_curve_ = trainer.loss_curve
        self.n_steps_ = steps_before + len(self.loss_curve_)
        self.network_.eval()
        self._after_fit(signals, rng)
        return self

    def _after_fit(self, signals: np.ndarray, rng: np.random.Generator) -> None:
        """Hook run once training ends, with the training signals (rows, n_samples)."""

    # ---- inference -------------------------------------------------------------------------------
    def _rows(self, data: np.ndarray, fn) -> list[torch.Tensor]:
        """``fn`` applied to batches of (rows, n_samples) signals, on :meth:`_workers` threads;
        returns the per-batch outputs."""
        signals = torch.from_numpy(data.reshape(-1, data.shape[-1]))
        rows_per_batch = max(1, self.inference_batch_samples // signals.shape[-1])
        rows_per_batch = min(rows_per_batch, -(-len(signals) // self._workers(len(signals))))

        def run(start: int) -> torch.Tensor:
            with torch.inference_mode():  # thread-local, so entered in each worker
                return fn(signals[start : start + rows_per_batch].to(self.device)).cpu()

        return self._map(run, list(range(0, len(signals), rows_per_batch)), desc=f"{self.kind} batches")

    def _pretrained_network(self) -> tuple[torch.nn.Module, int]:
        """(network, training steps) of the ``pretrained`` weights, on ``device``, in eval mode."""
        meta, state = weights.read(self.pretrained, kind="tokenizer", device=self.device)
        if meta.get("tokenizer") != self.kind:
            raise ValueError(f"{self.pretrained}: holds a {meta.get('tokenizer')!r} tokenizer, not {self.kind!r}")
        network = self._build(config=meta["config"]).to(self.device)
        network.load_state_dict(state)
        return network.eval(), meta.get("n_steps", 0)

    @property
    def n_codes_(self) -> int:
        """Codebook size of the fitted network (the ``n_codes`` parameter unless ``pretrained`` set it)."""
        check_is_fitted(self, "network_")
        return self.network_.config.n_codes

    def transform(self, X, sfreq: float | None = None) -> np.ndarray:
        """Integer tokens: (n_epochs, n_channels, n_tokens), or (n_channels, n_tokens) for continuous data.
        ``sfreq`` is the rate of an array ``X`` for this call (else the parameter)."""
        check_is_fitted(self, "network_")
        data, continuous = self._prepare(X, sfreq)
        tokens = torch.cat(self._rows(data, self._encode)).numpy().astype(np.int64)
        tokens = tokens.reshape(*data.shape[:2], -1)
        return tokens[0] if continuous else tokens

    def _as_tokens(self, tokens) -> tuple[torch.Tensor, tuple[int, ...]]:
        tokens = np.asarray(tokens)
        if tokens.dtype.kind not in "iu" or tokens.ndim not in (2, 3):
            raise ValueError(
                "tokens must be integers shaped (n_channels, n_tokens) or (n_epochs, n_channels, n_tokens), "
                f"got {tokens.dtype} {tokens.shape}"
            )
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.n_codes_):
            raise ValueError(f"tokens must lie in [0, {self.n_codes_}), got [{tokens.min()}, {tokens.max()}]")
        return torch.from_numpy(tokens.reshape(-1, tokens.shape[-1]).astype(np.int64)), tokens.shape[:-1]

    def inverse_transform(self, tokens) -> np.ndarray:
        """What the tokens stand for, in normalised units (see the subclass for which quantity)."""
        check_is_fitted(self, "network_")
        flat, lead = self._as_tokens(tokens)
        with torch.inference_mode():
            out = torch.cat([self._decode(flat[i : i + 256].to(self.device)).cpu() for i in range(0, len(flat), 256)])
        return out.numpy().reshape(*lead, *out.shape[1:])

    def score(self, X, y=None, sfreq: float | None = None) -> float:
        """PVE on ``X``: the fraction of the variance of the reconstructed quantity that the tokens
        explain (higher is better; 1 is perfect). :meth:`scores` adds codebook usage and perplexity."""
        return self.scores(X, sfreq)["pve"]

    def scores(self, X, sfreq: float | None = None) -> dict:
        """{"pve", "usage", "perplexity"} on ``X``: the fraction of the variance of the reconstructed
        quantity explained, the fraction of codes used, and the unigram perplexity of the tokens."""
        from tfsignal.metrics import codebook_usage, perplexity, pve

        check_is_fitted(self, "network_")
        data, _ = self._prepare(X, sfreq)
        tokens = torch.cat(self._rows(data, self._encode))
        target = torch.cat(self._rows(data, self._target))
        with torch.inference_mode():
            recon = torch.cat(
                [self._decode(tokens[i : i + 256].to(self.device)).cpu() for i in range(0, len(tokens), 256)]
            )
        tokens = tokens.numpy()
        return {
            "pve": float(pve(target.numpy(), recon.numpy())),
            "usage": float(codebook_usage(tokens, self.n_codes_)),
            "perplexity": float(perplexity(tokens, self.n_codes_)),
        }

    # ---- persistence -----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write ``path.safetensors`` (weights and codebook) and ``path.json`` (parameters) through
        ``tfsignal.weights.write``."""
        check_is_fitted(self, "network_")
        params = {
            k: v for k, v in self.get_params().items() if k not in ("device", "progress", "pretrained", "fine_tune")
        }
        meta = {
            "kind": "tokenizer",
            "tokenizer": self.kind,
            "params": params,
            "config": dataclasses.asdict(self.network_.config),
            "n_steps": self.n_steps_,
        }
        return weights.write(path, meta, self.network_.state_dict(), overwrite=overwrite)

    @classmethod
    def load(cls, name_or_path: str | os.PathLike, device: str = "cpu"):
        """A shipped tokenizer by name or a saved one by path (see ``tfsignal.weights``)."""
        meta, state = weights.read(name_or_path, kind="tokenizer", device=device)
        if meta.get("tokenizer") != cls.kind:
            raise ValueError(f"{name_or_path}: holds a {meta.get('tokenizer')!r} tokenizer, not {cls.kind!r}")
        params = {k: v for k, v in meta["params"].items() if k not in ("pretrained", "fine_tune")}
        tokenizer = cls(**params, device=device, pretrained=str(name_or_path))
        tokenizer.network_ = tokenizer._build(config=meta["config"]).to(device)
        tokenizer.network_.load_state_dict(state)
        tokenizer.network_.eval()
        tokenizer.n_steps_ = meta.get("n_steps", 0)
        tokenizer.loss_curve_ = []
        return tokenizer
