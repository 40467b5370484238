"""Load a recording, look at its spectrogram, compress it and rebuild the waveform.

python examples/stft_roundtrip.py tests/data/speech_libri.flac
"""

import sys

import torch

from tfsignal.frontends import STFT, compress, decompress, magphase, polar
from tfsignal.io import load_audio
from tfsignal.metrics import si_sdr

path = sys.argv[1] if len(sys.argv) > 1 else "tests/data/speech_libri.flac"
audio, rate = load_audio(path, sr=16000)  # (time,) float32, resampled to 16 kHz
x = torch.from_numpy(audio)

stft = STFT(n_fft=400, hop_length=100)  # 25 ms window, 6.25 ms hop (MambAttention's front end)
spec = stft.stft(x)  # (201, frames) complex
mag, phase = magphase(spec)
compressed = compress(mag, 0.3)  # the power-law compression the speech models predict in

rebuilt = stft.istft(polar(decompress(compressed, 0.3), phase), length=x.shape[-1])
print(f"{path}: {x.shape[-1] / rate:.2f} s, spectrogram {tuple(spec.shape)}")
print(f"reconstruction SI-SDR: {si_sdr(rebuilt.numpy(), audio):.1f} dB; float32 rounding alone limits it to ~95 dB")
energy = (mag**2).sum(-1).numpy()
print(f"share of energy below 4 kHz: {energy[:101].sum() / energy.sum():.1%}")
