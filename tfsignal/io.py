"""File input and output. The only module that touches files; its errors are one line each.

Every problem with a user's file raises :class:`InputFileError` (a ``ValueError``) whose message
names the file and the problem, so the command line can print it as it is and exit with code 2.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from .frontends.resample import resample

if TYPE_CHECKING:
    import mne

__all__ = [
    "InputFileError",
    "OutputFileError",
    "AudioReader",
    "audio_writer",
    "load_audio",
    "load_eeg",
    "save_audio",
    "save_npz",
    "save_text",
    "audio_info",
    "check_output_path",
]


class InputFileError(ValueError):
    """A user's file is missing, unreadable or holds unusable data (one-line message)."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path, self.problem = str(path), " ".join(str(problem).split())
        super().__init__(f"{self.path}: {self.problem}")


class OutputFileError(InputFileError):
    """An output cannot be written: a full disk, an I/O error, a folder that vanished or is
    read-only. Nothing partial is left and an existing file at that path is kept as it was."""

    def __init__(self, path: str | os.PathLike, err: BaseException) -> None:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err) or type(err).__name__
        super().__init__(path, f"cannot write it ({reason})")


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise InputFileError(path, "no such file")
    if path.is_dir():
        raise InputFileError(path, "is a directory, not an audio file")


def audio_info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """Header of an audio file (rate, channels, frames, format) without reading its samples."""
    path = Path(path)
    _check_readable(path)
    try:
        return sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise InputFileError(path, f"not a readable audio file ({err})") from None


def load_audio(path: str | os.PathLike, sr: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 in [-1, 1].

    Returns ``(x, rate)``: ``x`` is (time,) when ``mono`` (channels averaged) or (channels, time)
    otherwise; ``rate`` is ``sr`` when given (the file is resampled to it) or the file's own rate.
    Any format libsndfile reads (WAV/FLAC/OGG/..., 8/16/24/32-bit integer or float samples). A WAV
    file shorter than its header says (cut short) is read as far as it goes, with a ``RuntimeWarning``.
    """
    path = Path(path)
    _check_readable(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (time, channels)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise InputFileError(path, f"not a readable audio file ({err})") from None
    except MemoryError:  # a damaged header can claim billions of frames
        raise InputFileError(path, "its header claims more samples than fit in memory") from None
    if data.shape[0] == 0:
        raise InputFileError(path, "contains zero samples")
    if not np.isfinite(data).all():
        raise InputFileError(path, "contains NaN or Inf samples")
    _wav_cut_short(path, data.shape[0], rate)
    x = data.mean(axis=1) if mono else np.ascontiguousarray(data.T)  # (T,) or (C, T)
    if sr is not None and sr != rate:
        try:
            x = resample(x, rate, sr, axis=-1)
        except ValueError as err:  # a rate no recorder uses, from a damaged header
            raise InputFileError(path, str(err)) from None
        except MemoryError:
            raise InputFileError(path, f"too long to resample from {rate} Hz to {sr} Hz in memory") from None
        rate = sr
    return np.ascontiguousarray(x, dtype=np.float32), int(rate)


# EEG/MEG file suffix -> (mne.io reader, format name for messages).
EEG_READERS = {
    ".edf": ("read_raw_edf", "EDF"),
    ".bdf": ("read_raw_bdf", "BDF"),
    ".fif": ("read_raw_fif", "FIF"),
    ".vhdr": ("read_raw_brainvision", "BrainVision"),
    ".set": ("read_raw_eeglab", "EEGLAB"),
}


def _import_mne():
    try:
        import mne
    except ImportError:
        raise ImportError("reading EEG files needs mne: pip install 'tfsignal[eeg]'") from None
    return mne


def load_eeg(path: str | os.PathLike, preload: bool = True) -> mne.io.BaseRaw:
    """Read a continuous EEG/MEG recording with mne, quietly.

    EDF/EDF+ (``.edf``), BDF (``.bdf``), raw FIF (``.fif``, ``.fif.gz``), BrainVision (``.vhdr``,
    with its ``.vmrk`` and ``.eeg`` beside it) and EEGLAB (``.set``). Returns the ``mne.io.Raw``
    with its annotations; ``preload=False`` leaves the samples on disk until used. An EDF/BDF file
    shorter than its header says (cut short) is read as far as it goes, with a ``RuntimeWarning``.

    FIF files from MEGIN/Elekta systems recorded with MaxShield (internal active shielding) and not
    yet MaxFiltered are read too, where mne alone would refuse them: ``raw.info["maxshield"]`` is
    True and a ``RuntimeWarning`` says so, as their samples want Maxwell filtering
    (``mne.preprocessing.maxwell_filter``) before analysis.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "no such file")
    if path.is_dir():
        raise InputFileError(path, "is a directory, not an EEG file")
    suffix = ".fif" if path.name.lower().endswith(".fif.gz") else path.suffix.lower()
    if suffix not in EEG_READERS:
        expected = ", ".join(EEG_READERS)
        raise InputFileError(path, f"unsupported EEG format '{suffix or path.name}' (expected {expected})")
    reader, format_name = EEG_READERS[suffix]
    options = {"allow_maxshield": True} if suffix == ".fif" else {}
    mne = _import_mne()
    try:
        with warnings.catch_warnings():  # numpy's complaints about a damaged file's fields: the error says it
            warnings.simplefilter("ignore")
            raw = getattr(mne.io, reader)(path, preload=preload, verbose="error", **options)
    except Exception as err:  # mne's readers fail on a bad file with many types (ValueError, OSError, KeyError, ...)
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputFileError(path, f"not a readable {format_name} file ({detail})") from None
    if raw.n_times == 0:
        raise InputFileError(path, "contains zero samples")
    if not 0 < raw.info["sfreq"] < np.inf:  # an EDF header's record duration may be zero or negative
        raise InputFileError(path, f"impossible sampling rate of {raw.info['sfreq']:g} Hz in its header")
    if suffix in (".edf", ".bdf") and _edf_promised_seconds(path) > raw.n_times / raw.info["sfreq"] + 1e-6:
        warnings.warn(
            f"{path}: its header promises more data than the file holds (cut short while copying or "
            f"recording?); reading the {raw.n_times / raw.info['sfreq']:g} s that are there",
            RuntimeWarning,
            stacklevel=2,
        )
    if raw.info.get("maxshield"):  # mne's own warning is silenced with the rest of its output above
        warnings.warn(
            f"{path}: MaxShield data not yet MaxFiltered; apply mne.preprocessing.maxwell_filter first",
            RuntimeWarning,
            stacklevel=2,
        )
    return raw


def _edf_promised_seconds(path: Path) -> float:
    """The duration an EDF/BDF header promises: data records x record duration (0 if it does not say;
    mne reads as many records as the file holds)."""
    with path.open("rb") as f:
        head = f.read(256)
    try:
        return max(int(head[236:244]), 0) * float(head[244:252])
    except ValueError:
        return 0.0


def _wav_cut_short(path: Path, frames: int, rate: int) -> None:
    """Warn when a WAV file's header promises more samples than the file holds: libsndfile reads
    the frames the file size allows and says nothing, so a file cut short in a copy or by a crashed
    recorder would pass silently. Headers of unknown length (0 or 0xFFFFFFFF bytes of data, as
    streaming writers leave them) and RF64 files are taken as they are."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return
            block = 0  # bytes per frame, from the fmt chunk
            while len(chunk := f.read(8)) == 8:  # (id, little-endian size) headers, padded to even sizes
                size = int.from_bytes(chunk[4:], "little")
                if chunk[:4] == b"fmt ":
                    if size < 16:  # not a WAV format chunk: leave the file to libsndfile
                        return
                    block = int.from_bytes(f.read(16)[12:14], "little")
                    f.seek(size + size % 2 - 16, os.SEEK_CUR)
                elif chunk[:4] == b"data":
                    present = os.fstat(f.fileno()).st_size - f.tell()
                    break
                else:
                    f.seek(size + size % 2, os.SEEK_CUR)
            else:
                return
    except OSError:
        return
    if size in (0, 0xFFFFFFFF) or present >= size or block <= 0:
        return
    warnings.warn(
        f"{path}: its header promises {size // block / rate:.4g} s but the file holds {frames / rate:.4g} s "
        "(cut short while copying or recording?); reading what is there",
        RuntimeWarning,
        stacklevel=3,
    )


def check_output_path(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Refuse an output path that exists (unless ``overwrite``) or whose folder is missing."""
    path = Path(path)
    if path.is_dir():
        raise InputFileError(path, "is a directory; give a file name")
    if path.exists() and not overwrite:
        raise InputFileError(path, "already exists (pass overwrite=True / --overwrite to replace it)")
    if not path.parent.exists():
        raise InputFileError(path, f"folder {path.parent} does not exist")
    return path


def publish(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Give a finished temporary file the permissions of a normal new file and rename it to ``path``.

    mkstemp creates files readable by their owner only; outputs should follow the user's umask.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def save_audio(
    path: str | os.PathLike,
    x: np.ndarray,
    sr: int,
    overwrite: bool = False,
    subtype: str | None = None,
) -> Path:
    """Write ``x`` ((time,) or (channels, time)) to ``path`` atomically.

    The samples go to a temporary file in the same folder that is renamed over ``path`` only once
    complete, so a crash never leaves a half-written file. An existing file is kept unless
    ``overwrite=True``. ``subtype`` is a libsndfile subtype such as ``"PCM_16"`` or ``"FLOAT"``
    (default: the format's usual one, 16-bit PCM for WAV and FLAC).
    """
    x = np.asarray(x)
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise InputFileError(path, f"nothing to write: samples shaped {x.shape}")
    with audio_writer(path, sr, 1 if x.ndim == 1 else x.shape[0], overwrite, subtype) as write:
        write(x)
    return Path(path)


def _sound_format(path: Path) -> str:
    ext = path.suffix.lstrip(".").upper() or "WAV"
    ext = {"OGA": "OGG", "AIF": "AIFF"}.get(ext, ext)
    if ext not in sf.available_formats():
        raise InputFileError(path, f"unknown audio format '.{ext.lower()}'")
    return ext


@contextmanager
def audio_writer(
    path: str | os.PathLike, sr: int, channels: int, overwrite: bool = False, subtype: str | None = None
) -> Iterator[Callable[[np.ndarray], None]]:
    """Write an audio file block by block, atomically: ``with audio_writer(...) as write: write(x)``.

    Each ``x`` is (time,) for one channel or (channels, time). The samples go to a temporary file
    beside ``path`` that becomes ``path`` only when the block ends without error; an existing file
    is kept unless ``overwrite``. NaN or Inf samples are refused (and nothing is written); samples
    beyond +-1 written as integers are clipped with a warning. A failed write (full disk, I/O
    error, vanished folder) raises :class:`OutputFileError` and leaves ``path`` as it was.
    """
    path = check_output_path(path, overwrite)
    ext = _sound_format(path)
    subtype = subtype or sf.default_subtype(ext)
    clips = bool(subtype) and subtype.startswith(("PCM", "ULAW", "ALAW"))  # integers stop at full scale
    clipped = 0
    with atomic_path(path) as tmp:
        f = _sound_file_to_write(path, tmp, sr, channels, subtype, ext)

        def write(x: np.ndarray) -> None:
            nonlocal clipped
            x = np.asarray(x)
            if (x.shape[0] if x.ndim == 2 else 1) != channels or x.ndim not in (1, 2):
                raise ValueError(f"expected {channels} channel(s), got samples shaped {x.shape}")
            if not np.isfinite(x).all():
                raise InputFileError(path, "refusing to write NaN or Inf samples")
            if clips:
                clipped += int(np.count_nonzero(np.abs(x) > 1))
            try:  # soundfile wants (time, channels); one channel goes in as (T,), so no transposed copy
                f.write(x if x.ndim == 1 else x[0] if channels == 1 else x.T)
            except (OSError, RuntimeError, AssertionError) as err:  # libsndfile's "System error": disk full
                raise OutputFileError(path, err) from None

        try:
            yield write
        except BaseException:
            f.close()
            raise
        try:
            f.close()  # libsndfile writes the header's final sizes here
        except (OSError, RuntimeError) as err:
            raise OutputFileError(path, err) from None
    if clipped:
        warnings.warn(
            f"{path}: {clipped} sample(s) beyond full scale were clipped to fit {subtype} "
            "(FLOAT samples, as a float input gets in .wav, keep them)",
            RuntimeWarning,
            stacklevel=3,
        )


def _sound_file_to_write(path: Path, tmp: str, sr: int, channels: int, subtype: str | None, ext: str) -> sf.SoundFile:
    """``tmp`` opened for writing, or an InputFileError about ``path`` when libsndfile refuses the
    rate, channel count or subtype."""
    try:
        return sf.SoundFile(tmp, "w", int(sr), int(channels), subtype, format=ext)
    except (sf.LibsndfileError, OverflowError, TypeError, ValueError) as err:
        problem = str(err).split(": ")[-1]  # libsndfile's own words, without the temporary file's name
        raise InputFileError(path, f"cannot write {channels} channel(s) at {sr} Hz as {ext} ({problem})") from None


class AudioReader:
    """Blocks of an audio file without reading all of it: ``with AudioReader(path) as r: r.read(i0, i1)``.

    ``rate``, ``channels`` and ``frames`` come from the header; :meth:`read` returns samples
    ``[i0, i1)`` as float32 (channels, i1 - i0). Problems raise :class:`InputFileError`.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        _check_readable(self.path)
        try:
            self._file = sf.SoundFile(str(self.path))
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
            raise InputFileError(self.path, f"not a readable audio file ({err})") from None
        self.rate, self.channels, self.frames = int(self._file.samplerate), self._file.channels, self._file.frames
        self.subtype = self._file.subtype  # "PCM_16", "FLOAT", ...
        if self.frames <= 0:
            self.close()
            raise InputFileError(self.path, "contains zero samples")
        _wav_cut_short(self.path, self.frames, self.rate)

    def read(self, start: int, stop: int) -> np.ndarray:
        try:
            self._file.seek(start)
            data = self._file.read(stop - start, dtype="float32", always_2d=True)  # (time, channels)
        except (sf.LibsndfileError, RuntimeError, ValueError) as err:
            raise InputFileError(self.path, f"unreadable at sample {start} ({err})") from None
        if data.shape[0] != stop - start:
            end = start + data.shape[0]
            raise InputFileError(self.path, f"ends at sample {end}, before the {self.frames} its header gives")
        if not np.isfinite(data).all():
            raise InputFileError(self.path, "contains NaN or Inf samples")
        return np.ascontiguousarray(data.T)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary file beside ``path`` to write; published as ``path`` when the ``with`` block ends
    without error, deleted otherwise, so a crash never leaves a partial file and ``path`` as it was."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".part", dir=path.parent)
    except OSError as err:  # a read-only or vanished folder
        raise OutputFileError(path, err) from None
    os.close(fd)
    try:
        yield tmp
        try:
            publish(tmp, path)
        except OSError as err:
            raise OutputFileError(path, err) from None
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_atomically(path: Path, write) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then publish it as ``path``.

    A crash or error leaves no partial file behind and ``path`` as it was.
    """
    with atomic_path(path) as tmp:
        try:
            write(tmp)
        except OSError as err:  # a full disk, an I/O error
            raise OutputFileError(path, err) from None
    return path


def save_text(path: str | os.PathLike, text: str, overwrite: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file + rename), refusing to replace a file
    unless ``overwrite``."""
    path = check_output_path(path, overwrite)
    return write_atomically(path, lambda tmp: Path(tmp).write_text(text))


def save_npz(path: str | os.PathLike, **arrays) -> Path:
    """``np.savez`` of ``arrays`` to ``path`` atomically (temporary file + rename), replacing any file there.

    The file is written through an open handle, so numpy writes exactly ``path`` (given a file name
    without ".npz", it would add the suffix to the temporary file).
    """

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    return write_atomically(Path(path), write)
