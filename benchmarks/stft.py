"""Time per call of the STFT backends against torch.stft and librosa.stft on CPU.

    python benchmarks/stft.py [--seconds 10] [--repeats 20]

10 s of 16 kHz audio, n_fft 400 / hop 100 (MambAttention's front end) and n_fft 640 / hop 160
(TIGER's), batch 1 and 16, forward STFT only. Ratios are measured in the same run.
"""

from __future__ import annotations

import argparse

import torch
from timing import median_seconds

from tfsignal.frontends import STFT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    try:
        import librosa
    except ImportError:
        librosa = None
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.seconds:g} s at 16 kHz\n")
    print(
        "| n_fft/hop | batch | tfsignal fft (ms) | tfsignal conv (ms) | torch.stft (ms) | librosa (ms) "
        "| conv / torch.stft |"
    )
    print("|---|---|---|---|---|---|---|")
    for n_fft, hop in ((400, 100), (640, 160)):
        window = torch.hann_window(n_fft)
        fft, conv = STFT(n_fft, hop, backend="fft"), STFT(n_fft, hop, backend="conv")
        for batch in (1, 16):
            x = torch.randn(batch, int(args.seconds * 16000))
            xn = x.numpy()
            with torch.inference_mode():
                t_fft = median_seconds(lambda: fft.stft(x), args.repeats)
                t_conv = median_seconds(lambda: conv.stft(x), args.repeats)
                t_torch = median_seconds(
                    lambda: torch.stft(x, n_fft, hop, window=window, return_complex=True), args.repeats
                )
            t_lib = (
                median_seconds(lambda: librosa.stft(xn, n_fft=n_fft, hop_length=hop, pad_mode="reflect"), args.repeats)
                if librosa
                else float("nan")
            )
            print(
                f"| {n_fft}/{hop} | {batch} | {1e3 * t_fft:.2f} | {1e3 * t_conv:.2f} | {1e3 * t_torch:.2f} "
                f"| {1e3 * t_lib:.2f} | {t_conv / t_torch:.2f} |"
            )


if __name__ == "__main__":
    main()
