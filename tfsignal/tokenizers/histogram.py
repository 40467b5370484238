"""Bag-of-token features: how often each code of a tokenizer occurs in each channel of an epoch.

A tokenizer (``TFMTokenizer``, ``SampleTokenizer``) turns an epoch into integer codes shaped
(n_channels, n_tokens). :class:`TokenHistogram` counts the codes of every channel and divides by the
channel's number of tokens, so epochs of different lengths give comparable features. A linear
classifier on these features is the simplest downstream probe of what a codebook has captured::

    Pipeline([("hist", TokenHistogram(n_codes=tok.n_codes, sublinear=True)), ("lr", LogisticRegression())])
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["TokenHistogram"]


def _as_tokens(X) -> np.ndarray:
    """Integer tokens as (n_epochs, n_channels, n_tokens); a single (n_channels, n_tokens) is one epoch."""
    tokens = np.asarray(X)
    if tokens.ndim == 2:
        tokens = tokens[None]
    if tokens.ndim != 3:
        raise ValueError(
            f"tokens must be shaped (n_epochs, n_channels, n_tokens) or (n_channels, n_tokens), got {tokens.shape}"
        )
    if tokens.dtype == bool or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(
            f"tokens must be integer codes, got dtype {tokens.dtype} (cast with .astype(int) if they are whole numbers)"
        )
    if tokens.size == 0:
        raise ValueError(f"no tokens to count: shape {tokens.shape}")
    if tokens.min() < 0:
        raise ValueError(f"tokens must be non-negative codes, got {tokens.min()}")
    return tokens


def _check_int(name: str, value, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")


class TokenHistogram(TransformerMixin, BaseEstimator):
    """Normalised per-channel histograms of token codes, as a scikit-learn transformer.

    ``transform`` maps tokens (n_epochs, n_channels, n_tokens) to features (n_epochs, n_channels *
    n_kept): for each channel, the share of its tokens that are each kept code, channel after
    channel (see :meth:`get_feature_names_out`). A single epoch (n_channels, n_tokens) is accepted
    as one row.

    Parameters
    ----------
    n_codes : int or None
        Codebook size (pass the tokenizer's ``n_codes``). None learns it in ``fit`` as the largest
        token + 1; tokens at or above ``n_codes_`` are refused by ``transform``.
    pool_channels : bool
        One histogram over all channels of an epoch, (n_epochs, n_kept), instead of one per channel.
        The number of channels may then differ between ``fit`` and ``transform``.
    sublinear : bool
        Square roots of the frequencies. A channel's vector of square roots has unit length, and the
        Euclidean distance between two such vectors is the Hellinger distance of the histograms; it
        keeps a few very frequent codes from dominating a linear classifier while rare codes still
        count. Usually helps logistic regression and linear SVMs.
    min_count : int
        Keep only codes seen at least this many times over all of ``fit``'s tokens (their indices in
        ``kept_codes_``), which keeps the feature vector short when the codebook is large. 0 keeps
        every code, 1 drops codes never seen in ``fit``. Frequencies stay shares of all the
        channel's tokens, so a channel's features sum to 1 minus the share of dropped codes.

    Attributes
    ----------
    n_codes_ : int
        Codebook size used.
    code_counts_ : ndarray (n_codes_,)
        How often each code occurred in ``fit``.
    kept_codes_ : ndarray (n_kept,)
        Codes that have a feature, in increasing order.
    n_channels_ : int
        Channels seen in ``fit``.
    """

    def __init__(
        self, n_codes: int | None = None, pool_channels: bool = False, sublinear: bool = False, min_count: int = 0
    ):
        self.n_codes = n_codes
        self.pool_channels = pool_channels
        self.sublinear = sublinear
        self.min_count = min_count

    def fit(self, X, y=None) -> TokenHistogram:
        """Learn the codebook size (unless given) and which codes to keep; ``y`` is ignored."""
        if self.n_codes is not None:
            _check_int("n_codes", self.n_codes, 1)
        _check_int("min_count", self.min_count, 0)
        tokens = _as_tokens(X)
        largest = int(tokens.max())
        n_codes = largest + 1 if self.n_codes is None else int(self.n_codes)
        if largest >= n_codes:
            raise ValueError(f"token {largest} is outside the codebook of n_codes={n_codes}")
        counts = np.bincount(tokens.ravel(), minlength=n_codes)
        kept = np.flatnonzero(counts >= self.min_count)
        if kept.size == 0:
            raise ValueError(
                f"no code occurs min_count={self.min_count} times in the tokens given to fit "
                f"(the most frequent occurs {counts.max()} times)"
            )
        self.n_codes_ = n_codes
        self.code_counts_ = counts
        self.kept_codes_ = kept
        self.n_channels_ = tokens.shape[1]
        return self

    def transform(self, X) -> np.ndarray:
        """Features (n_epochs, n_channels * n_kept), or (n_epochs, n_kept) with ``pool_channels``."""
        check_is_fitted(self)
        tokens = _as_tokens(X)
        n_epochs, n_channels, n_tokens = tokens.shape
        largest = int(tokens.max())
        if largest >= self.n_codes_:
            raise ValueError(
                f"token {largest} is outside the codebook seen in fit (n_codes_={self.n_codes_}); "
                "pass the tokenizer's codebook size as n_codes"
            )
        if not self.pool_channels and n_channels != self.n_channels_:
            raise ValueError(f"tokens have {n_channels} channels, fit saw {self.n_channels_}")
        n_kept = self.kept_codes_.size
        column = np.full(self.n_codes_, -1, dtype=np.int64)
        column[self.kept_codes_] = np.arange(n_kept)
        columns = column[tokens]  # (E, C, T): feature column of each token, -1 where dropped
        if self.pool_channels:
            rows, n_rows, per_row = np.arange(n_epochs)[:, None, None], n_epochs, n_channels * n_tokens
        else:
            rows = np.arange(n_epochs)[:, None, None] * n_channels + np.arange(n_channels)[None, :, None]
            n_rows, per_row = n_epochs * n_channels, n_tokens
        kept = columns >= 0
        cells = (rows * n_kept + columns)[kept]  # index into the flattened (rows, n_kept) table
        counts = np.bincount(cells, minlength=n_rows * n_kept).reshape(n_rows, n_kept)
        features = counts / per_row
        if self.sublinear:
            np.sqrt(features, out=features)
        return features.reshape(n_epochs, -1)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """``"code{k}"`` per kept code, prefixed ``"{channel}_"`` unless ``pool_channels``.

        ``input_features`` names the channels (e.g. ``epochs.ch_names``); default ``ch0``, ``ch1``, ...
        """
        check_is_fitted(self)
        codes = [f"code{k}" for k in self.kept_codes_]
        if self.pool_channels:
            return np.asarray(codes, dtype=object)
        if input_features is None:
            channels = [f"ch{c}" for c in range(self.n_channels_)]
        else:
            channels = [str(name) for name in input_features]
            if len(channels) != self.n_channels_:
                raise ValueError(f"input_features names {len(channels)} channels, fit saw {self.n_channels_}")
        return np.asarray([f"{channel}_{code}" for channel in channels for code in codes], dtype=object)
