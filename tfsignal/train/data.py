"""Data for speech-enhancement training: paired folders, on-the-fly mixing, augmentation and splits.

- :class:`PairedFolderDataset` reads a local copy of VB-DemandEx or DNS-Challenge 2020 (noisy, clean) pairs.
- :class:`MixingDataset` mixes clean speech with real noise at random SNRs, with an optional
  :class:`Augment` (gain, EQ, reverb, band limit, clipping); every item is a pure function of
  ``(seed, epoch, index)`` so a validation set built from it is fixed and DataLoader workers agree.
- :func:`corpus_files` lists the offline corpus (``clean/**.flac``, ``noise/**.flac``); its splits by
  speaker and recording are in :mod:`tfsignal.splits`.

Both datasets return ``(noisy, clean)`` float32 tensors shaped (time,). For speech separation:

- :class:`SpeakerMixingDataset` mixes different speakers on the fly (overlap ratio, relative
  level, optional noise and reverb); :class:`SeparationFolderDataset` reads fixed mixtures and their
  sources from folders (:func:`separation_files`; the layouts of Libri2Mix, :func:`libri2mix_items`,
  and EchoSet, :func:`echoset_items`).

Both return ``(mixture (time,), sources (n_sources, time))`` float32 tensors.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from scipy.signal import butter, fftconvolve, lfilter, sosfiltfilt
from torch.utils.data import Dataset

from tfsignal.io import InputFileError, load_audio
from tfsignal.splits import speaker_id

__all__ = [
    "PairedFolderDataset",
    "MixingDataset",
    "Augment",
    "paired_files",
    "match_pairs",
    "corpus_files",
    "active_power",
    "trim_silence",
    "room_impulse_response",
    "coloured_noise",
    "synthetic_noise",
    "SpeakerMixingDataset",
    "SeparationFolderDataset",
    "separation_files",
    "libri2mix_items",
    "echoset_items",
]

AUDIO_EXTENSIONS = (".wav", ".flac")
FRAME_SECONDS = 0.02  # frame length for speech-activity decisions
ACTIVE_FLOOR_DB = 30.0  # a frame is active speech within this many dB of the loudest frame (~P.56's margin)
TRIM_FLOOR_DB = 40.0  # leading/trailing frames this far below the loudest are silence (generous: keeps soft onsets)
TRIM_MARGIN_SECONDS = 0.1  # kept around the trimmed speech so onsets and decays stay whole
PEAK_LIMIT = 0.99  # outputs are scaled down to this peak so no unintended clipping happens
LOOP_FADE_SECONDS = 0.01  # cross-fade at the seams of looped noise, to avoid clicks

PathLike = str | os.PathLike


# ----------------------------------------------------------------------------------- signal helpers


def _frame_powers(x: np.ndarray, sample_rate: int) -> np.ndarray:
    frame = max(1, round(FRAME_SECONDS * sample_rate))
    n_frames = len(x) // frame
    if n_frames == 0:
        return np.array([np.mean(np.square(x, dtype=np.float64))])
    return np.square(x[: n_frames * frame].reshape(n_frames, frame), dtype=np.float64).mean(axis=1)


def active_power(x: np.ndarray, sample_rate: int, floor_db: float = ACTIVE_FLOOR_DB) -> float:
    """Mean power of the 20 ms frames within ``floor_db`` of the loudest one (pauses left out).

    SNRs of speech are defined on this active-speech power, so a clip with long pauses is not mixed
    at a lower effective SNR than a dense one.
    """
    powers = _frame_powers(np.asarray(x), sample_rate)
    peak = powers.max()
    if peak <= 0:
        return 0.0
    return float(powers[powers >= peak * 10 ** (-floor_db / 10)].mean())


def trim_silence(x: np.ndarray, sample_rate: int, floor_db: float = TRIM_FLOOR_DB) -> np.ndarray:
    """``x`` without leading and trailing frames ``floor_db`` below its loudest, keeping a 0.1 s margin."""
    powers = _frame_powers(x, sample_rate)
    if powers.max() <= 0:
        return x
    active = np.flatnonzero(powers >= powers.max() * 10 ** (-floor_db / 10))
    frame, margin = round(FRAME_SECONDS * sample_rate), round(TRIM_MARGIN_SECONDS * sample_rate)
    start = max(0, active[0] * frame - margin)
    stop = min(len(x), (active[-1] + 1) * frame + margin)
    return x[start:stop]


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


def _fit_length(x: np.ndarray, length: int) -> np.ndarray:
    return x[:length] if len(x) >= length else np.pad(x, (0, length - len(x)))


def _random_crop(signals: Sequence[np.ndarray], length: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``signals`` (of one length) cut at one random offset to ``length`` samples, zero-padded when shorter."""
    start = int(rng.integers(0, max(0, len(signals[0]) - length) + 1))
    return [_fit_length(x[start:], length) for x in signals]


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


# ------------------------------------------------------------------------------------ augmentation


def _peaking(f0: float, gain_db: float, q: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Peaking-EQ biquad (R. Bristow-Johnson's audio EQ cookbook): ``gain_db`` at ``f0``, width set by ``q``."""
    a_gain, w0 = 10 ** (gain_db / 40), 2 * np.pi * f0 / sample_rate
    alpha, cos_w0 = np.sin(w0) / (2 * q), np.cos(w0)
    b = np.array([1 + alpha * a_gain, -2 * cos_w0, 1 - alpha * a_gain])
    a = np.array([1 + alpha / a_gain, -2 * cos_w0, 1 - alpha / a_gain])
    return b / a[0], a / a[0]


def _shelf(high: bool, f0: float, gain_db: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Low- or high-shelf biquad (audio EQ cookbook, slope 1): ``gain_db`` below / above ``f0``."""
    a_gain, w0 = 10 ** (gain_db / 40), 2 * np.pi * f0 / sample_rate
    cos_w0, two_sqrt_a_alpha = np.cos(w0), np.sqrt(a_gain) * np.sin(w0) * np.sqrt(2)
    sign = -1.0 if high else 1.0  # folds the cookbook's low- and high-shelf formulas into one
    b = a_gain * np.array(
        [
            (a_gain + 1) - sign * (a_gain - 1) * cos_w0 + two_sqrt_a_alpha,
            sign * 2 * ((a_gain - 1) - sign * (a_gain + 1) * cos_w0),
            (a_gain + 1) - sign * (a_gain - 1) * cos_w0 - two_sqrt_a_alpha,
        ]
    )
    a = np.array(
        [
            (a_gain + 1) + sign * (a_gain - 1) * cos_w0 + two_sqrt_a_alpha,
            -sign * 2 * ((a_gain - 1) + sign * (a_gain + 1) * cos_w0),
            (a_gain + 1) + sign * (a_gain - 1) * cos_w0 - two_sqrt_a_alpha,
        ]
    )
    return b / a[0], a / a[0]


def room_impulse_response(rng: np.random.Generator, sample_rate: int, rt60: float, drr_db: float) -> np.ndarray:
    """Synthetic room impulse response: a unit direct path at sample 0 plus exponentially decaying noise.

    The tail's amplitude falls by 60 dB over ``rt60`` seconds (its length) and its energy sits
    ``drr_db`` below the direct path's (the direct-to-reverberant ratio).
    """
    n = max(2, round(rt60 * sample_rate))
    t = np.arange(n) / sample_rate
    h = rng.standard_normal(n) * np.exp(-3 * np.log(10) * t / rt60)  # 10**-3 = -60 dB at t = rt60
    h[0] = 0.0
    h *= 10 ** (-drr_db / 20) / np.sqrt(np.sum(h**2))
    h[0] = 1.0
    return h


class Augment:
    """Random degradations for :class:`MixingDataset`, drawn from the generator it passes in.

    Speech stage (:meth:`speech`, before mixing, so the SNR is set on what the microphone hears):

    - EQ (``eq_prob``): one peaking biquad (200 Hz-4 kHz, +-6 dB, Q 0.7-2) and one low shelf
      (100-400 Hz) or high shelf (2-5 kHz), +-6 dB. Stands for microphone and voice colouration, so
      the target is EQ'd too: the model is not asked to undo timbre.
    - Reverb (``reverb_prob``): :func:`room_impulse_response` with RT60 0.2-0.8 s and a
      direct-to-reverberant ratio of -3 to 9 dB. The input gets the full reverberant speech; the
      target keeps the direct path and the first 50 ms (early reflections help intelligibility and
      are part of the voice; late reverberation is treated as noise, as in DNS-Challenge targets).
      With ``reverb_target_prob`` the target is instead the whole reverberant speech for that share
      of reverberant items (the model then removes noise only, as GTCRN's author trains it).

    Mixture stage (:meth:`mixture`, after mixing and level setting):

    - Band limit (``band_limit_prob``): 8th-order Butterworth low-pass run forward and backward
      (zero phase, so nothing shifts) near 4, 5.5 or 8 kHz (+-10 %; only cut-offs below 90 % of
      Nyquist), applied to input AND target, as a narrow-band channel would: the model learns to
      keep the band, not to invent the missing one.
    - Gain (``gain_db``): one random gain on input and target together, widening the level range
      so the model does not rely on absolute level.
    - Clipping (``clip_prob``): input only, at 30-80 % of its peak, standing for an overdriven
      recorder; the target stays unclipped so the model learns to repair it.
    """

    EQ_GAIN_DB = 6.0
    RT60_SECONDS = (0.2, 0.8)
    DRR_DB = (-3.0, 9.0)
    EARLY_SECONDS = 0.05
    CUTOFFS_HZ = (4000.0, 5500.0, 8000.0)
    CLIP_FRACTION = (0.3, 0.8)

    def __init__(
        self,
        gain_db: tuple[float, float] = (-10.0, 10.0),
        eq_prob: float = 0.5,
        reverb_prob: float = 0.3,
        band_limit_prob: float = 0.2,
        clip_prob: float = 0.1,
        reverb_target_prob: float = 0.0,
    ) -> None:
        self.gain_db = gain_db
        self.reverb_target_prob = reverb_target_prob
        self.eq_prob = eq_prob
        self.reverb_prob = reverb_prob
        self.band_limit_prob = band_limit_prob
        self.clip_prob = clip_prob

    def __repr__(self) -> str:
        return (
            f"Augment(gain_db={self.gain_db}, eq_prob={self.eq_prob}, reverb_prob={self.reverb_prob}, "
            f"band_limit_prob={self.band_limit_prob}, clip_prob={self.clip_prob}, "
            f"reverb_target_prob={self.reverb_target_prob})"
        )

    def eq(self, x: np.ndarray, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
        """``x`` through a random peaking biquad and a random low or high shelf."""
        g = self.EQ_GAIN_DB
        f0 = min(np.exp(rng.uniform(np.log(200), np.log(4000))), 0.4 * sample_rate)
        b, a = _peaking(f0, rng.uniform(-g, g), rng.uniform(0.7, 2.0), sample_rate)
        y = lfilter(b, a, x)
        if rng.random() < 0.5:
            b, a = _shelf(False, rng.uniform(100, 400), rng.uniform(-g, g), sample_rate)
        else:
            f0 = min(rng.uniform(2000, 5000), 0.4 * sample_rate)
            b, a = _shelf(True, f0, rng.uniform(-g, g), sample_rate)
        return lfilter(b, a, y).astype(np.float32)

    def reverb(self, x: np.ndarray, rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """``(reverberant, target)``: ``x`` through a random room, and through its first 50 ms only."""
        h = room_impulse_response(rng, sample_rate, rng.uniform(*self.RT60_SECONDS), rng.uniform(*self.DRR_DB))
        early = h[: round(self.EARLY_SECONDS * sample_rate) + 1]
        reverberant = fftconvolve(x, h)[: len(x)]
        target = fftconvolve(x, early)[: len(x)]
        return reverberant.astype(np.float32), target.astype(np.float32)

    def speech(self, x: np.ndarray, rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """``(input speech, target speech)`` after random EQ and reverb."""
        if rng.random() < self.eq_prob:
            x = self.eq(x, rng, sample_rate)
        if rng.random() < self.reverb_prob:
            reverberant, early = self.reverb(x, rng, sample_rate)
            # drawn only when asked for, so with reverb_target_prob 0 the other draws stay the same
            keep_all = self.reverb_target_prob > 0 and rng.random() < self.reverb_target_prob
            return reverberant, reverberant if keep_all else early
        return x, x

    def mixture(
        self, noisy: np.ndarray, target: np.ndarray, rng: np.random.Generator, sample_rate: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(noisy, target)`` after random band limit (both), gain (both) and clipping (noisy only)."""
        if rng.random() < self.band_limit_prob:
            cutoffs = [c for c in self.CUTOFFS_HZ if c < 0.9 * sample_rate / 2]
            if cutoffs:
                cutoff = cutoffs[rng.integers(len(cutoffs))] * rng.uniform(0.9, 1.1)
                sos = butter(8, min(cutoff, 0.95 * sample_rate / 2), fs=sample_rate, output="sos")
                noisy = sosfiltfilt(sos, noisy).astype(np.float32)
                target = sosfiltfilt(sos, target).astype(np.float32)
        gain = np.float32(10 ** (rng.uniform(*self.gain_db) / 20))
        noisy, target = noisy * gain, target * gain
        if rng.random() < self.clip_prob:
            threshold = rng.uniform(*self.CLIP_FRACTION) * np.abs(noisy).max()
            noisy = np.clip(noisy, -threshold, threshold)
        return noisy, target


# ---------------------------------------------------------------------------------- files and splits


def corpus_files(root: PathLike) -> tuple[list[Path], list[Path]]:
    """``(clean_files, noise_files)``: the sorted ``clean/**/*.flac`` and ``noise/**/*.flac`` under ``root``."""
    root = Path(root)
    clean = sorted((root / "clean").rglob("*.flac"))
    noise = sorted((root / "noise").rglob("*.flac"))
    if not clean or not noise:
        raise InputFileError(root, "not a speech corpus: expected clean/**/*.flac and noise/**/*.flac")
    return clean, noise


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


_DNS_FILEID = re.compile(r"fileid_(\d+)$")


def match_pairs(noisy_dir: PathLike, clean_dir: PathLike) -> list[tuple[Path, Path]]:
    """Sorted ``(noisy, clean)`` file pairs: same file name, or DNS ``*_fileid_N`` -> ``clean_fileid_N``."""
    noisy_dir, clean_dir = Path(noisy_dir), Path(clean_dir)
    for folder in (noisy_dir, clean_dir):
        if not folder.is_dir():
            raise InputFileError(folder, "no such folder")
    noisy, clean = _audio_files(noisy_dir), _audio_files(clean_dir)
    by_name = {p.name: p for p in clean}
    pairs = [(p, by_name[p.name]) for p in noisy if p.name in by_name]
    if not pairs:
        by_id = {m.group(1): p for p in clean if (m := _DNS_FILEID.search(p.stem))}
        pairs = [(p, by_id[m.group(1)]) for p in noisy if (m := _DNS_FILEID.search(p.stem)) and m.group(1) in by_id]
    if not pairs:
        raise InputFileError(
            noisy_dir, f"no noisy .wav/.flac file has a clean counterpart in {clean_dir} (same name, or DNS fileid_N)"
        )
    if len(pairs) < len(noisy):
        warnings.warn(f"{noisy_dir}: {len(noisy) - len(pairs)} noisy files have no clean counterpart", stacklevel=2)
    return pairs


def paired_files(root: PathLike, train: bool = True) -> list[tuple[Path, Path]]:
    """``(noisy, clean)`` pairs of a VB-DemandEx or DNS-Challenge 2020 copy under ``root``.

    Accepted layouts: ``root/noisy`` + ``root/clean``; or VB-DemandEx's ``noisy_trainset*`` +
    ``clean_trainset*`` (``train=True``) / ``noisy_testset*`` + ``clean_testset*`` (``train=False``),
    several such folder pairs (28spk and 56spk) being read together.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "no such folder")
    if (root / "noisy").is_dir() and (root / "clean").is_dir():
        return match_pairs(root / "noisy", root / "clean")
    kind = "trainset" if train else "testset"
    folders = [
        (noisy, root / ("clean" + noisy.name[len("noisy") :]))
        for noisy in sorted(root.glob(f"noisy_{kind}*"))
        if noisy.is_dir() and (root / ("clean" + noisy.name[len("noisy") :])).is_dir()
    ]
    if not folders:
        raise InputFileError(
            root,
            f"not a recognised layout: expected noisy/ + clean/ or noisy_{kind}*/ + clean_{kind}*/ folders "
            "(VB-DemandEx; DNS-Challenge noisy/ + clean/)",
        )
    return [pair for noisy, clean in folders for pair in match_pairs(noisy, clean)]


# ------------------------------------------------------------------------------------------- datasets


class PairedFolderDataset(Dataset):
    """(noisy, clean) pairs from a local VB-DemandEx or DNS-Challenge 2020 copy (layouts: :func:`paired_files`).

    ``train=True`` crops both files at one random offset to ``segment_seconds`` (zero-padding
    shorter files); ``train=False`` returns whole files. Crops depend on ``(seed, epoch, index)``;
    call :meth:`set_epoch` each epoch for new crops.
    """

    def __init__(
        self,
        root: PathLike,
        segment_seconds: float = 2.0,
        sample_rate: int = 16000,
        train: bool = True,
        seed: int = 0,
    ) -> None:
        self.root = Path(root)
        self.segment_length = round(segment_seconds * sample_rate)
        self.sample_rate = sample_rate
        self.train = train
        self.seed = seed
        self.epoch = 0
        self.pairs = paired_files(self.root, train)

    def __len__(self) -> int:
        return len(self.pairs)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        noisy_path, clean_path = self.pairs[index]
        noisy, _ = load_audio(noisy_path, sr=self.sample_rate)
        clean, _ = load_audio(clean_path, sr=self.sample_rate)
        n = min(len(noisy), len(clean))
        noisy, clean = noisy[:n], clean[:n]
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            noisy, clean = _random_crop([noisy, clean], self.segment_length, rng)
        return torch.from_numpy(np.ascontiguousarray(noisy)), torch.from_numpy(np.ascontiguousarray(clean))


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


# ------------------------------------------------------------------------------------ separation


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
        self.n_sources = n_sources
        self.overlap = overlap
        self.relative_level_db = relative_level_db
        self.noise_prob = noise_prob
        self.reverb_prob = reverb_prob

    def mixture(self, index: int, overlap: float | None = None) -> dict:
        """Item ``index`` with what made it: ``mixture`` (time,), ``sources`` (n_sources, time),
        ``speech_files``, ``overlap``, ``levels_db`` (relative to the first speaker), ``reverb``,
        ``noise_file`` and ``snr_db`` (None without noise). Pass ``overlap`` to fix the ratio."""
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
            "noise_file": noise_file,
            "snr_db": snr_db,
        }

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        item = self.mixture(index)
        return torch.from_numpy(item["mixture"]), torch.from_numpy(item["sources"])


def separation_files(mixture_dir: PathLike, source_dirs: Sequence[PathLike]) -> list[tuple[Path, list[Path]]]:
    """``(mixture, [source 1, source 2, ...])`` for every file of ``mixture_dir`` that has a file of
    the same name in each of ``source_dirs`` (Libri2Mix: ``mix_clean/`` with ``s1/`` and ``s2/``)."""
    by_source = [dict(match_pairs(mixture_dir, folder)) for folder in source_dirs]
    return [
        (mix, [found[mix] for found in by_source]) for mix in sorted(by_source[0]) if all(mix in f for f in by_source)
    ]


LIBRI2MIX_SOURCES = ("s1", "s2")


def libri2mix_folder(root: PathLike, split: str, rate_folder: str = "wav16k", mode: str = "min") -> Path:
    """The folder of one Libri2Mix split: ``root/wav16k/min/SPLIT``, or ``root/SPLIT`` when root is that level."""
    root = Path(root)
    for base in (root / rate_folder / mode, root):
        if (base / split).is_dir():
            return base / split
    raise InputFileError(
        root,
        f"not a Libri2Mix folder: no {rate_folder}/{mode}/{split}/ (nor {split}/) with mix_clean/, s1/, s2/ inside",
    )


def libri2mix_items(
    root: PathLike, split: str, mixture: str = "mix_clean", rate_folder: str = "wav16k", mode: str = "min"
) -> list[tuple[Path, list[Path]]]:
    """``(mixture, [s1, s2])`` paths of one Libri2Mix split (Cosentino et al., 2020), as LibriMix's generator
    lays them out (``wav16k/min/{train-100,dev,test}/{mix_clean,mix_both,s1,s2}/ID.wav``).

    When ``metadata/mixture_{split}_{mixture}.csv`` is there, its ``mixture_ID`` column lists the
    mixtures, in its order (the paths in it are where the generator wrote them, so each file is
    looked up under ``root``); otherwise every mixture with an s1/ and s2/ file of the same name is used.
    """
    folder = libri2mix_folder(root, split, rate_folder, mode)
    metadata = folder.parent / "metadata" / f"mixture_{split}_{mixture}.csv"
    if not metadata.exists():
        return separation_files(folder / mixture, [folder / s for s in LIBRI2MIX_SOURCES])
    with open(metadata, newline="") as f:
        ids = [row["mixture_ID"] for row in csv.DictReader(f)]
    items = [(folder / mixture / f"{i}.wav", [folder / s / f"{i}.wav" for s in LIBRI2MIX_SOURCES]) for i in ids]
    missing = [p for mix, sources in items for p in (mix, *sources) if not p.exists()]
    if missing or not items:
        problem = f"{len(missing)} files it lists are missing, e.g. {missing[0]}" if missing else "lists no mixture"
        raise InputFileError(metadata, problem)
    return items


ECHOSET_MIXTURE = "mix.wav"
ECHOSET_SOURCES = ("spk1_reverb.wav", "spk2_reverb.wav")


def echoset_items(root: PathLike, split: str) -> list[tuple[Path, list[Path]]]:
    """``(mix.wav, [spk1_reverb.wav, spk2_reverb.wav])`` of every mixture folder under ``root/split``
    of EchoSet (Xu et al., ICLR 2025): ``{train,val,test}/<mixture id>/``, possibly nested deeper.

    A folder without both reverberant sources is left out; other files (dry sources) are ignored.
    """
    folder = Path(root) / split
    if not folder.is_dir():
        raise InputFileError(root, f"not an EchoSet folder: no {split}/ inside (expected train/, val/, test/)")
    items = [(mix, [mix.parent / s for s in ECHOSET_SOURCES]) for mix in sorted(folder.rglob(ECHOSET_MIXTURE))]
    items = [(mix, sources) for mix, sources in items if all(s.exists() for s in sources)]
    if not items:
        sources = " and ".join(ECHOSET_SOURCES)
        raise InputFileError(folder, f"no mixture folder holding {ECHOSET_MIXTURE} with {sources}")
    return items


class SeparationFolderDataset(Dataset):
    """Fixed mixtures and their sources from files: ``items`` holds ``(mixture, [sources])`` paths
    (from :func:`separation_files` or a recipe's reader of a dataset's layout).

    With ``segment_seconds`` every file of an item is cut at one random offset to that length
    (shorter ones zero-padded), the offset a function of ``(seed, epoch, index)``; call
    :meth:`set_epoch` for new crops. With ``segment_seconds=None`` items are whole (cut to the
    shortest file). :meth:`load` gives an item whole as numpy arrays.
    """

    def __init__(
        self,
        items: Sequence[tuple[PathLike, Sequence[PathLike]]],
        segment_seconds: float | None = 3.0,
        sample_rate: int = 16000,
        seed: int = 0,
    ) -> None:
        if not items:
            raise ValueError("SeparationFolderDataset needs at least one mixture")
        self.items = [(Path(mix), [Path(s) for s in sources]) for mix, sources in items]
        self.segment_length = None if segment_seconds is None else round(segment_seconds * sample_rate)
        self.sample_rate = sample_rate
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(mixture (time,), sources (n_sources, time))`` of item ``index``, whole, at ``sample_rate``."""
        mix_path, source_paths = self.items[index]
        signals = [load_audio(path, sr=self.sample_rate)[0] for path in (mix_path, *source_paths)]
        n = min(len(x) for x in signals)
        return signals[0][:n], np.stack([x[:n] for x in signals[1:]])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        mixture, sources = self.load(index)
        if self.segment_length is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            mixture, *cropped = _random_crop([mixture, *sources], self.segment_length, rng)
            sources = np.stack(cropped)
        return torch.from_numpy(np.ascontiguousarray(mixture)), torch.from_numpy(np.ascontiguousarray(sources))
