"""Pictures that explain a result better than numbers (matplotlib, from the ``audio`` extra)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from tfsignal.io import check_output_path, publish


def _log_spectrogram(x: np.ndarray, sr: int, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    from scipy.signal import stft

    _, _, spec = stft(x, sr, nperseg=n_fft, noverlap=n_fft - hop)
    return 20 * np.log10(np.abs(spec) + 1e-8)  # (freq, frames) in dB


def spectrogram_comparison(
    before: np.ndarray,
    after: np.ndarray,
    sr: int,
    path: str | os.PathLike,
    titles: tuple[str, str] = ("input", "enhanced"),
    overwrite: bool = False,
) -> Path:
    """Write a PNG with the spectrograms of ``before`` and ``after`` (mono, same rate) one above the other.

    Both panels share one colour scale (80 dB below the louder one's peak), so what was removed
    shows as darker regions. The file is written atomically and an existing one is kept unless
    ``overwrite``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = check_output_path(path, overwrite)
    specs = [_log_spectrogram(np.asarray(x, dtype=np.float64), sr) for x in (before, after)]
    top = max(s.max() for s in specs)
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True, constrained_layout=True)
    for ax, spec, title in zip(axes, specs, titles):
        extent = (0, len(before) / sr, 0, sr / 2000)
        image = ax.imshow(spec, origin="lower", aspect="auto", extent=extent, vmin=top - 80, vmax=top, cmap="magma")
        ax.set_title(title)
        ax.set_ylabel("kHz")
    axes[-1].set_xlabel("seconds")
    fig.colorbar(image, ax=axes, label="dB")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100)
        publish(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
