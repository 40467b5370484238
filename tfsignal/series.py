"""Time-series classification data: read .ts/.csv/.npy files, pad or resample lengths, standardise channels.

Series travel as aeon does it: a list of (channels, time) arrays, or one (n, channels, time) array
when all have the same length. Models take (batch, time, channels) plus a padding mask.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .io import InputFileError


class SeriesFileError(InputFileError):
    """A series file that cannot be read: an :class:`tfsignal.io.InputFileError` (one line naming the file)."""


def as_series_list(X) -> list[np.ndarray]:
    """(n, time), (n, channels, time) or a list of (channels, time) / (time,) arrays -> list of (C, T) float arrays.

    Checks what scikit-learn's ``check_array`` would, with its messages: no sparse, complex or
    non-numeric input, at least one series of at least one step, no infinite values (nor values
    beyond float32's range). NaN is allowed: it marks a missing step (see :func:`pad`); a series of
    NaN only is refused.
    """
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError("sparse input is not supported: pass dense series (e.g. X.toarray())")
    if np.isscalar(X) or (isinstance(X, np.ndarray) and X.ndim == 0):
        raise ValueError(f"expected a collection of series, got {type(X).__name__} {X!r:.40}")
    if not isinstance(X, (list, tuple)):
        X = np.asarray(X)  # array-likes: DataFrames, objects with __array__
    shape = None  # of an array input, for the messages
    if isinstance(X, np.ndarray) and X.dtype != object:
        shape = X.shape
        if X.ndim not in (2, 3):
            raise ValueError(
                f"expected (n_series, time) or (n_series, channels, time), got shape {X.shape}. Reshape your data: "
                "one series is X[None] (or x.reshape(1, -1))"
            )
        X = X[:, None, :] if X.ndim == 2 else X
    out = [_one_series(x, i) for i, x in enumerate(X)]
    if not out:
        raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required: no series given")
    if len({x.shape[0] for x in out}) != 1:
        raise ValueError(f"series differ in their number of channels: {sorted({x.shape[0] for x in out})}")
    if min(x.shape[1] for x in out) == 0:
        where = f"shape={shape}" if shape is not None else "a series of no steps"
        raise ValueError(f"Found array with 0 feature(s) ({where}) while a minimum of 1 is required.")
    return out


def _one_series(x, i: int) -> np.ndarray:
    """Series ``i`` of :func:`as_series_list` as a checked (channels, time) float32 array."""
    x = np.asarray(x)
    if np.iscomplexobj(x):
        raise ValueError(f"Complex data not supported (series {i})")
    if x.dtype == object:  # numbers held as objects are numbers; anything else is refused here
        try:
            x = x.astype(np.float64)
        except TypeError as err:  # an object that is not a number at all (numpy's message, as check_array's)
            raise TypeError(f"series {i}: {err}") from None
        except ValueError as err:
            raise ValueError(f"series {i}: values that are not real numbers ({err})") from None
    if x.dtype.kind not in "biuf":
        raise ValueError(f"series {i}: values of type {x.dtype} are not real numbers")
    x = x[None, :] if x.ndim == 1 else x
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"series {i}: expected (channels, time) with at least one channel, got shape {x.shape}")
    with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes Inf, refused below
        x = x.astype(np.float32)
    if np.isinf(x).any():
        raise ValueError(f"Input X contains infinity (series {i}), or values beyond float32's range")
    if x.size and np.isnan(x).all():
        raise ValueError(f"series {i}: no values, only NaN")
    return x


def pad(series: list[np.ndarray], length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """List of (C, T_i) -> series (n, length, C) zero-padded at the end, and mask (n, length) True at padding.

    Missing values (NaN) inside a series count as padding too. ``length`` defaults to the longest.
    """
    longest = max(x.shape[1] for x in series)
    length = longest if length is None else length
    if longest > length:
        raise ValueError(f"a series has {longest} steps, more than the {length} this model takes")
    n, channels = len(series), series[0].shape[0]
    out = np.zeros((n, length, channels), dtype=np.float32)
    mask = np.ones((n, length), dtype=bool)
    for i, x in enumerate(series):
        t = x.shape[1]
        missing = np.isnan(x).any(axis=0)  # (T_i,)
        out[i, :t] = np.nan_to_num(x.T, nan=0.0)
        mask[i, :t] = missing
    return out, mask


def stretch(x: np.ndarray, length: int) -> np.ndarray:
    """One series (n,) stretched or squeezed to (length,) by linear interpolation over the same span
    (first and last values kept)."""
    return np.interp(np.linspace(0, len(x) - 1, length), np.arange(len(x)), x)


def resample(series: list[np.ndarray], length: int) -> tuple[np.ndarray, np.ndarray]:
    """List of (C, T_i) -> series (n, length, C), each stretched or squeezed to ``length`` steps by linear
    interpolation over its own duration, and mask (n, length), all False (nothing is padding).

    This is how a model with a fixed context (a pre-trained TSPulse reads 512 steps) takes series of
    any length. NaN steps are filled by interpolation from their neighbours first.
    """
    out = np.zeros((len(series), length, series[0].shape[0]), dtype=np.float32)
    grid = np.linspace(0.0, 1.0, length)
    for i, x in enumerate(series):
        where = np.linspace(0.0, 1.0, x.shape[1])
        for c, channel in enumerate(x):
            ok = ~np.isnan(channel)
            if not ok.any():
                raise ValueError(f"series {i}, channel {c}: no values, only NaN")
            out[i, :, c] = np.interp(grid, where[ok], channel[ok]) if ok.sum() > 1 else channel[ok][0]
    return out, np.zeros(out.shape[:2], dtype=bool)


class Standardiser:
    """Per-channel mean and standard deviation over the valid steps of a training set."""

    def __init__(self, mean=None, std=None) -> None:
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32)
        self.std = None if std is None else np.asarray(std, dtype=np.float32)

    def fit(self, X: np.ndarray, mask: np.ndarray) -> Standardiser:
        valid = X[~mask]  # (n_valid_steps, C)
        self.mean = valid.mean(0).astype(np.float32)
        self.std = np.maximum(valid.std(0), 1e-6).astype(np.float32)
        return self

    def transform(self, X: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.where(mask[..., None], 0.0, (X - self.mean) / self.std).astype(np.float32)


def read_series_file(path: str | Path) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Series (list of (C, T)) and labels (or None) from a .ts (sktime/aeon), .csv or .npy file.

    .csv: one univariate series per row, numbers only; .npy: (n, time) or (n, channels, time).
    """
    path = Path(path)
    if path.is_dir():
        raise SeriesFileError(path, "is a directory, not a series file")
    if not path.is_file():
        raise SeriesFileError(path, "no such file")
    suffix = path.suffix.lower()
    if suffix not in (".ts", ".csv", ".npy"):
        raise SeriesFileError(path, f"unsupported extension {suffix!r} (use .ts, .csv or .npy)")
    labels = None
    try:
        if suffix == ".ts":
            from aeon.datasets import load_from_ts_file

            X, labels = load_from_ts_file(str(path))
        elif suffix == ".csv":
            with warnings.catch_warnings():  # an empty file: numpy warns, as_series_list refuses it
                warnings.simplefilter("ignore", UserWarning)
                X = np.genfromtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
        else:
            X = np.load(path, allow_pickle=False)
        series = as_series_list(X)
    except ImportError as err:
        raise SeriesFileError(path, "reading .ts files needs aeon (pip install 'tfsignal[series]')") from err
    except Exception as err:  # the parsers fail on a damaged file with many types (SyntaxError, EOFError, ...)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SeriesFileError(path, f"not a readable {suffix} series file ({first})") from err
    if labels is None or len(labels) == 0:
        return series, None
    if len(labels) != len(series):
        raise SeriesFileError(path, f"{len(labels)} labels for {len(series)} series")
    return series, np.asarray(labels)
