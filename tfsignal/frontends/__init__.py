"""Shared front ends: STFT/iSTFT, power-law compression, FFT periodicity, band splits, resampling."""

from .bands import TIGER_BANDS_HZ, BandSplit, band_edges
from .periodicity import fold, top_k_periods, unfold
from .resample import resample, resample_span, resampled_length
from .stft import (
    STFT,
    compress,
    decompress,
    dft_bases,
    istft,
    magphase,
    make_window,
    polar,
    stft,
)

__all__ = [
    "STFT",
    "stft",
    "istft",
    "make_window",
    "dft_bases",
    "compress",
    "decompress",
    "magphase",
    "polar",
    "top_k_periods",
    "fold",
    "unfold",
    "BandSplit",
    "band_edges",
    "TIGER_BANDS_HZ",
    "resample",
    "resample_span",
    "resampled_length",
]
