"""Speech activity on 20 ms frames: the active-speech power SNRs are set on, and silence trimming.

A frame counts as active when its power lies within a margin of the loudest frame's, so pauses
between words do not lower a clip's speech power and soft onsets survive the trimming.
"""

from __future__ import annotations

import numpy as np

__all__ = ["active_power", "trim_silence"]

FRAME_SECONDS = 0.02  # frame length for speech-activity decisions
ACTIVE_FLOOR_DB = 30.0  # a frame is active speech within this many dB of the loudest frame (~P.56's margin)
TRIM_FLOOR_DB = 40.0  # leading/trailing frames this far below the loudest are silence (generous: keeps soft onsets)
TRIM_MARGIN_SECONDS = 0.1  # kept around the trimmed speech so onsets and decays stay whole


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
