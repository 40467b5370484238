"""Shared front ends: STFT/iSTFT, power-law compression, FFT periodicity, band splits, ERB band merging, resampling."""

from .bands import TIGER_BANDS_HZ, BandSplit, ERBBands, band_edges, erb_weights, hz_to_erb
from .periodicity import fold, top_k_periods, unfold
from .resample import resample, resample_span, resampled_length
from .stft import (
    STFT,
    StreamingSTFT,
    compress,
    decompress,
    dft_bases,
    enhance_magphase,
    istft,
    magphase,
    make_window,
    polar,
    stft,
)

__all__ = [
    "STFT",
    "StreamingSTFT",
    "stft",
    "istft",
    "make_window",
    "dft_bases",
    "compress",
    "decompress",
    "magphase",
    "enhance_magphase",
    "polar",
    "top_k_periods",
    "fold",
    "unfold",
    "BandSplit",
    "band_edges",
    "ERBBands",
    "erb_weights",
    "hz_to_erb",
    "TIGER_BANDS_HZ",
    "resample",
    "resample_span",
    "resampled_length",
]
