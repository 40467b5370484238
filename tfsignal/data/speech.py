"""Speech datasets mixed on the fly, for enhancement and separation training.

- :class:`MixingDataset` mixes clean speech with real noise at random SNRs, with an optional
  :class:`~tfsignal.data.augment.Augment`; it returns ``(noisy, clean)`` float32 tensors (time,).
- :class:`SpeakerMixingDataset` mixes different speakers (overlap ratio, relative level, optional
  noise and reverb); it returns ``(mixture (time,), sources (n_sources, time))``.
- :func:`synthetic_noise` and :func:`coloured_noise` make noise that no recording holds.

Every item is a pure function of ``(seed, epoch, index)``, so a validation set built from a dataset
is fixed and DataLoader workers agree. The files come from
:func:`tfsignal.data.folders.corpus_files` and the splits of :mod:`tfsignal.data.splits`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from scipy.signal import fftconvolve
from torch.utils.data import Dataset

from tfsignal.data.activity import active_power, trim_silence
from tfsignal.data.augment import Augment, room_impulse_response
from tfsignal.data.splits import speaker_id
from tfsignal.io import load_audio

__all__ = ["MixingDataset", "SpeakerMixingDataset", "coloured_noise", "synthetic_noise"]

PEAK_LIMIT = 0.99  # outputs are scaled down to this peak so no unintended clipping happens
LOOP_FADE_SECONDS = 0.01  # cross-fade at the seams of looped noise, to avoid clicks

PathLike = str | os.PathLike


def _loop(x: np.ndarray, length: int, fade: int) -> np.ndarray:
    """Repeat ``x`` to at least ``length`` samples, cross-fading linearly over ``fade`` samples at each seam."""
    if len(x) >= length:
        return x[:length]
    fade = min(fade, len(x) // 4)
    period = len(x) - fade
    n_copies = int(np.ceil((length - fade) / period))
    out = np.zeros(n_copies * period + fade, dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    for k in range(n_copies):
        piece = x.copy()
        if fade and k > 0:
            piece[:fade] *= ramp
        if fade and k < n_copies - 1:
            piece[-fade:] *= ramp[::-1]
        out[k * period : k * period + len(x)] += piece
    return out[:length]


def coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """``n`` samples of Gaussian noise with a power spectrum falling as 1 / f**exponent (0 white, 1 pink,
    2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.arange(len(spectrum)), 1.0)
    x = np.fft.irfft(spectrum / freqs ** (exponent / 2), n)
    return (x / max(float(np.sqrt(np.mean(x**2))), 1e-12)).astype(np.float32)


def synthetic_noise(
    rng: np.random.Generator, n: int, sample_rate: int, babble: Callable[[], np.ndarray] | None = None
) -> np.ndarray:
    """``n`` samples of one synthetic noise kind, drawn uniformly: coloured noise (1/f**a, a in 0..2),
    mains hum (50 or 60 Hz and its harmonics with random levels, over faint coloured noise), tonal
    interference (a few steady or slowly gliding tones) or, when ``babble`` is given, its output
    (overlapping speech). Half the time a slow random envelope (0.5-4 Hz) makes it non-stationary."""
    t = np.arange(n) / sample_rate
    kinds = ["coloured", "hum", "tones"] + (["babble"] if babble is not None else [])
    kind = kinds[rng.integers(len(kinds))]
    if kind == "coloured":
        x = coloured_noise(rng, n, rng.uniform(0.0, 2.0))
    elif kind == "hum":
        mains = (50.0, 60.0)[rng.integers(2)]
        harmonics = np.arange(1, int(min(20, 0.45 * sample_rate / mains)) + 1)
        levels = 10 ** (-rng.uniform(0, 30, len(harmonics)) / 20)
        phases = rng.uniform(0, 2 * np.pi, len(harmonics))
        x = np.sum(levels[:, None] * np.sin(2 * np.pi * mains * harmonics[:, None] * t + phases[:, None]), axis=0)
        x = x / np.sqrt(np.mean(x**2)) + 0.05 * coloured_noise(rng, n, rng.uniform(0.0, 2.0))
    elif kind == "tones":
        x = np.zeros(n)
        for _ in range(rng.integers(1, 4)):
            f0 = np.exp(rng.uniform(np.log(100), np.log(0.4 * sample_rate)))
            glide = f0 * rng.uniform(-0.2, 0.2) * t / max(t[-1], 1e-9)
            x += np.sin(2 * np.pi * np.cumsum(f0 + glide) / sample_rate + rng.uniform(0, 2 * np.pi))
        x = x / np.sqrt(np.mean(x**2)) + 0.05 * coloured_noise(rng, n, 0.0)
    else:
        x = babble()
    if rng.random() < 0.5:
        rate = rng.uniform(0.5, 4.0)
        x = x * (1 + rng.uniform(0.3, 0.9) * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)))
    return np.asarray(x, dtype=np.float32)


def _groups(files: list[Path], key: Callable[[Path], str]) -> list[list[int]]:
    """Indices of ``files`` grouped by ``key(file)``, groups in sorted key order (so draws are reproducible)."""
    groups: dict[str, list[int]] = {}
    for i, path in enumerate(files):
        groups.setdefault(key(path), []).append(i)
    return [groups[k] for k in sorted(groups)]


class MixingDataset(Dataset):
    """Noisy speech mixed on the fly: a clean segment + a noise segment at a random SNR and level.

    Each item (``epoch_size`` of them) draws, from a generator seeded with ``(seed, epoch, index)``:
    a speaker (uniformly, then one of their files, so speakers with many short files do not
    dominate), a segment of its speech with leading/trailing silence trimmed (shorter speech is
    zero-padded at a random offset), a noise family (parent folder, uniformly, so a few long
    recordings do not dominate), one of its files and a segment of it (shorter noise is looped with
    cross-faded seams), an SNR
    uniform in ``snr_db`` (on active-speech power, :func:`active_power`, against the mean noise
    power) and a mixture RMS uniform in ``level_db`` dBFS. ``augment`` then degrades speech and
    mixture (:class:`Augment`). Both outputs are finally scaled together so neither peaks above 0.99.

    Two options draw from a second generator, seeded ``(seed, epoch, index, 1)``, so that turning
    them on leaves every other random choice of an item as it is: ``clean_prob``, the share of items
    with no noise at all (the model must leave clean speech alone; ``snr_db`` is then inf), and
    ``synthetic_noise_prob``, the share whose noise is :func:`synthetic_noise` (coloured noise,
    hum, tones, or babble of 3-6 other training utterances) instead of a noise file.

    Returns ``(noisy, clean)`` float32 tensors of exactly ``segment_seconds``; ``clean`` is the
    target at the mixture's scale: ``noisy == clean + noise`` unless reverb (late reverberation
    counts as noise) or clipping applies. Decoded audio (resampled to ``sample_rate``) is cached in
    memory on first use; call :meth:`preload` before starting DataLoader workers to share one copy.
    """

    def __init__(
        self,
        clean_files: Sequence[PathLike],
        noise_files: Sequence[PathLike],
        segment_seconds: float = 2.0,
        sample_rate: int = 16000,
        snr_db: tuple[float, float] | float = (-5.0, 15.0),
        epoch_size: int = 1000,
        augment: Augment | None = None,
        seed: int = 0,
        level_db: tuple[float, float] = (-35.0, -15.0),
        clean_prob: float = 0.0,
        synthetic_noise_prob: float = 0.0,
    ) -> None:
        if not clean_files or not noise_files:
            raise ValueError("MixingDataset needs at least one clean file and one noise file")
        for name, value in (("clean_prob", clean_prob), ("synthetic_noise_prob", synthetic_noise_prob)):
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        self.clean_prob = clean_prob
        self.synthetic_noise_prob = synthetic_noise_prob
        self.clean_files = [Path(p) for p in clean_files]
        self.noise_files = [Path(p) for p in noise_files]
        self.segment_length = round(segment_seconds * sample_rate)
        self.sample_rate = sample_rate
        self.snr_db = snr_db
        self.epoch_size = epoch_size
        self.augment = augment
        self.seed = seed
        self.level_db = level_db
        self.epoch = 0
        self._speakers = _groups(self.clean_files, speaker_id)
        self._noise_families = _groups(self.noise_files, lambda path: str(path.parent))
        self._clean_cache: dict[int, np.ndarray] = {}
        self._noise_cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return self.epoch_size

    def set_epoch(self, epoch: int) -> None:
        """Draw new mixtures for the same indices (epoch 0, the default, is what validation sets use)."""
        self.epoch = epoch

    def preload(self) -> MixingDataset:
        """Decode every file now (so forked DataLoader workers share the cache instead of each loading it)."""
        for i in range(len(self.clean_files)):
            self._clean(i)
        for i in range(len(self.noise_files)):
            self._noise(i)
        return self

    def _clean(self, i: int) -> np.ndarray:
        if i not in self._clean_cache:
            x, _ = load_audio(self.clean_files[i], sr=self.sample_rate)
            self._clean_cache[i] = trim_silence(x, self.sample_rate)
        return self._clean_cache[i]

    def _noise(self, i: int) -> np.ndarray:
        if i not in self._noise_cache:
            self._noise_cache[i] = load_audio(self.noise_files[i], sr=self.sample_rate)[0]
        return self._noise_cache[i]

    def _speech_segment(self, clean_index: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` samples of a clean file: a random excerpt, or the whole file zero-padded at a random offset."""
        speech = self._clean(clean_index)
        if len(speech) >= n:
            start = int(rng.integers(0, len(speech) - n + 1))
            return speech[start : start + n]
        offset = int(rng.integers(0, n - len(speech) + 1))
        return np.pad(speech, (offset, n - len(speech) - offset))

    def _noise_segment(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        """``(n samples of noise, file index)``: a family, one of its files, a random excerpt (short files looped)."""
        files = self._noise_families[rng.integers(len(self._noise_families))]
        noise_index = files[rng.integers(len(files))]
        noise = self._noise(noise_index)
        if len(noise) >= n:
            start = int(rng.integers(0, len(noise) - n + 1))
            return noise[start : start + n], noise_index
        start = int(rng.integers(0, len(noise)))  # a random phase of the loop
        return _loop(noise, start + n, round(LOOP_FADE_SECONDS * self.sample_rate))[start:], noise_index

    def _babble(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """3-6 utterances of random speakers summed at random levels within 10 dB, unit RMS."""
        x = np.zeros(n, dtype=np.float32)
        for _ in range(rng.integers(3, 7)):
            files = self._speakers[rng.integers(len(self._speakers))]
            segment = self._speech_segment(files[rng.integers(len(files))], n, rng)
            x += segment / max(float(np.sqrt(np.mean(segment**2))), 1e-8) * np.float32(10 ** (rng.uniform(-10, 0) / 20))
        return x

    def mixture(self, index: int, snr_db: float | None = None) -> dict:
        """Item ``index`` with what made it: ``noisy``, ``clean`` (float32 arrays), ``clean_file``,
        ``noise_file`` and ``snr_db`` (pass ``snr_db`` to override the random SNR)."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        n = self.segment_length
        files = self._speakers[rng.integers(len(self._speakers))]
        clean_index = files[rng.integers(len(files))]
        speech = self._speech_segment(clean_index, n, rng)
        noise, noise_index = self._noise_segment(n, rng)
        if snr_db is None:
            snr_db = float(self.snr_db) if np.ndim(self.snr_db) == 0 else float(rng.uniform(*self.snr_db))
        extra = np.random.default_rng([self.seed, self.epoch, index, 1])
        if self.clean_prob > 0 and extra.random() < self.clean_prob:
            snr_db = float("inf")
        if self.synthetic_noise_prob > 0 and extra.random() < self.synthetic_noise_prob:
            noise, noise_index = synthetic_noise(extra, n, self.sample_rate, lambda: self._babble(n, extra)), None

        speech_in, target = self.augment.speech(speech, rng, self.sample_rate) if self.augment else (speech, speech)
        speech_power = active_power(speech_in, self.sample_rate)
        noise_power = float(np.mean(np.square(noise, dtype=np.float64)))
        noise_gain = (
            0.0 if snr_db == float("inf") else np.sqrt(speech_power / (max(noise_power, 1e-20) * 10 ** (snr_db / 10)))
        )
        noisy = speech_in + np.float32(noise_gain) * noise

        level = 10 ** (rng.uniform(*self.level_db) / 20)
        scale = np.float32(level / max(float(np.sqrt(np.mean(np.square(noisy, dtype=np.float64)))), 1e-10))
        noisy, target = noisy * scale, target * scale
        if self.augment:
            noisy, target = self.augment.mixture(noisy, target, rng, self.sample_rate)
        peak = max(float(np.abs(noisy).max()), float(np.abs(target).max()))
        if peak > PEAK_LIMIT:
            noisy, target = noisy * np.float32(PEAK_LIMIT / peak), target * np.float32(PEAK_LIMIT / peak)
        return {
            "noisy": noisy.astype(np.float32),
            "clean": target.astype(np.float32),
            "clean_file": self.clean_files[clean_index],
            "noise_file": None if noise_index is None else self.noise_files[noise_index],
            "snr_db": snr_db,
        }

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        item = self.mixture(index)
        return torch.from_numpy(item["noisy"]), torch.from_numpy(item["clean"])


def _place(x: np.ndarray, length: int, start: int) -> np.ndarray:
    """``x`` zero-padded to ``length`` samples with its first sample at ``start``."""
    return np.pad(x, (start, length - start - len(x)))


class SpeakerMixingDataset(MixingDataset):
    """Mixtures of different speakers made on the fly, for training separators with PIT.

    Each item (``epoch_size`` of them) draws, from a generator seeded with ``(seed, epoch, index)``:

    - ``n_sources`` different speakers (uniformly, then one file of each, as :class:`MixingDataset`
      draws one, leading and trailing silence trimmed);
    - an overlap ratio ``r`` uniform in ``overlap`` (or the value given): each speaker talks for the
      same time ``a = L (1 + r (n - 1)) / n`` of the ``L``-sample segment, the k-th from
      ``k (L - a) / (n - 1)``, so neighbouring speakers talk at once for ``r L`` samples; ``r = 1``
      overlaps them fully (as Libri2Mix's "min" mixtures), ``r = 0`` has them take turns. An
      utterance longer than its turn is cut at random, a shorter one sits at random inside it;
    - with probability ``reverb_prob``, a room: one RT60 and direct-to-reverberant ratio in
      :class:`Augment`'s ranges, and an impulse response per speaker (:func:`room_impulse_response`);
      the reverberant speech is the target too, as in EchoSet, so the sources still add up to the
      mixture;
    - levels: every speaker after the first at ``+-relative_level_db`` (uniform) of the first, on
      active-speech power (:func:`active_power`);
    - with probability ``lone_prob``, one voice alone: a random one of the speakers keeps its
      turn and the others are silenced (their references are zeros), so the model learns to leave
      one track empty when only one person talks; this draw comes from a second generator, seeded
      ``(seed, epoch, index, 1)``, so turning it on leaves every other choice of an item as it is;
    - with probability ``noise_prob``, a noise segment (family, file and excerpt as in
      :class:`MixingDataset`) at an SNR uniform in ``snr_db`` against the summed speech;
    - a mixture RMS uniform in ``level_db`` dBFS; everything is then scaled together so that nothing
      peaks above 0.99.

    Returns ``(mixture (time,), sources (n_sources, time))`` float32 tensors with ``mixture ==
    sources.sum(0) + noise``. ``noise_files`` may be empty when ``noise_prob`` is 0. :meth:`mixture`
    gives an item with what made it.
    """

    def __init__(
        self,
        speech_files: Sequence[PathLike],
        noise_files: Sequence[PathLike],
        n_sources: int = 2,
        segment_seconds: float = 4.0,
        sample_rate: int = 16000,
        overlap: tuple[float, float] | float = (0.0, 1.0),
        relative_level_db: float = 5.0,
        noise_prob: float = 0.0,
        snr_db: tuple[float, float] = (0.0, 15.0),
        reverb_prob: float = 0.0,
        epoch_size: int = 1000,
        seed: int = 0,
        level_db: tuple[float, float] = (-35.0, -15.0),
        lone_prob: float = 0.0,
    ) -> None:
        # MixingDataset insists on noise files; without any, the pool is left empty (and noise_prob must be 0).
        pool = noise_files or speech_files
        super().__init__(speech_files, pool, segment_seconds, sample_rate, snr_db, epoch_size, None, seed, level_db)
        if not noise_files:
            self.noise_files, self._noise_families = [], []
        if n_sources < 2 or len(self._speakers) < n_sources:
            raise ValueError(f"need at least n_sources >= 2 speakers, got {len(self._speakers)} for {n_sources}")
        if noise_prob > 0 and not self.noise_files:
            raise ValueError(f"noise_prob={noise_prob} needs noise files, and none were given")
        if not 0 <= lone_prob <= 1:
            raise ValueError(f"lone_prob must lie in [0, 1], got {lone_prob}")
        self.lone_prob = lone_prob
        self.n_sources = n_sources
        self.overlap = overlap
        self.relative_level_db = relative_level_db
        self.noise_prob = noise_prob
        self.reverb_prob = reverb_prob

    def mixture(self, index: int, overlap: float | None = None) -> dict:
        """Item ``index`` with what made it: ``mixture`` (time,), ``sources`` (n_sources, time),
        ``speech_files``, ``overlap``, ``levels_db`` (relative to the first speaker), ``reverb``,
        ``active`` (whether each source talks; one True for a lone voice), ``noise_file`` and
        ``snr_db`` (None without noise). Pass ``overlap`` to fix the ratio."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        n, n_src = self.segment_length, self.n_sources
        if overlap is None:
            overlap = float(self.overlap) if np.ndim(self.overlap) == 0 else float(rng.uniform(*self.overlap))
        turn = round(n * (1 + overlap * (n_src - 1)) / n_src)
        speakers = rng.choice(len(self._speakers), size=n_src, replace=False)
        file_indices, sources = [], []
        for k, speaker in enumerate(speakers):
            files = self._speakers[speaker]
            file_indices.append(files[rng.integers(len(files))])
            speech = self._speech_segment(file_indices[-1], turn, rng)
            sources.append(_place(speech, n, round(k * (n - turn) / (n_src - 1))))
        reverb = bool(rng.random() < self.reverb_prob)
        if reverb:
            rt60, drr_db = rng.uniform(*Augment.RT60_SECONDS), rng.uniform(*Augment.DRR_DB)
            sources = [fftconvolve(x, room_impulse_response(rng, self.sample_rate, rt60, drr_db))[:n] for x in sources]
        powers = [max(active_power(x, self.sample_rate), 1e-20) for x in sources]
        levels_db = [0.0] + [float(rng.uniform(-1, 1) * self.relative_level_db) for _ in range(n_src - 1)]
        sources = np.stack(
            [x * np.sqrt(powers[0] / p * 10 ** (db / 10)) for x, p, db in zip(sources, powers, levels_db)]
        ).astype(np.float32)
        extra = np.random.default_rng([self.seed, self.epoch, index, 1])
        active = [True] * n_src
        if self.lone_prob > 0 and extra.random() < self.lone_prob:
            kept = int(extra.integers(n_src))
            active = [k == kept for k in range(n_src)]
            sources[[k for k in range(n_src) if k != kept]] = 0.0  # (n_sources, time): one voice
        mixture = sources.sum(0)
        noise_file, snr_db = None, None
        if rng.random() < self.noise_prob:
            noise, noise_index = self._noise_segment(n, rng)
            snr_db = float(rng.uniform(*self.snr_db))
            noise_power = max(float(np.mean(np.square(noise, dtype=np.float64))), 1e-20)
            gain = np.sqrt(active_power(mixture, self.sample_rate) / (noise_power * 10 ** (snr_db / 10)))
            mixture = mixture + np.float32(gain) * noise
            noise_file = self.noise_files[noise_index]
        level = 10 ** (rng.uniform(*self.level_db) / 20)
        scale = level / max(float(np.sqrt(np.mean(np.square(mixture, dtype=np.float64)))), 1e-10)
        scale = min(scale, PEAK_LIMIT / max(float(np.abs(mixture).max()), float(np.abs(sources).max()), 1e-10))
        return {
            "mixture": (mixture * np.float32(scale)).astype(np.float32),
            "sources": (sources * np.float32(scale)).astype(np.float32),
            "speech_files": [self.clean_files[i] for i in file_indices],
            "overlap": overlap,
            "levels_db": levels_db,
            "reverb": reverb,
            "active": active,
            "noise_file": noise_file,
            "snr_db": snr_db,
        }

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        item = self.mixture(index)
        return torch.from_numpy(item["mixture"]), torch.from_numpy(item["sources"])
