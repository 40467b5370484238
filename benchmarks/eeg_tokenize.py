"""EEG tokenisation on CPU: seconds to tokenise one hour of 64-channel EEG at 256 Hz.

    python benchmarks/eeg_tokenize.py                         # shipped tfm (small preset), 1 and 2 threads
    python benchmarks/eeg_tokenize.py --tokenizer tfm-fast    # any shipped tokenizer, or a saved one's path
    python benchmarks/eeg_tokenize.py --tokenizer paper --minutes 5 --threads 2
    python benchmarks/eeg_tokenize.py --tokenizer sample --minutes 5

The input is simulated EEG (``tfsignal.simulate.simulate_eeg``; speed does not depend on the
content). The time covers everything ``transform`` does: resampling 256 -> 200 Hz (250 Hz for the
sample tokenizer), per-channel normalisation and the network; a 10 s call warms up first. With N
threads the tokenizer splits the channels between N worker threads (its ``n_jobs`` default).
"paper" is an untrained ``TFMTokenizer.from_preset("paper")`` (same cost as trained weights).
Results with --minutes below 60 are scaled to one hour and marked so. One JSON line per run.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder comes first on sys.path, where its name would hide the
# standard library's ``tokenize`` (which torch imports); drop the folder before importing anything.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402


def build(name: str):
    import numpy as np

    from tfsignal.tokenizers import TFMTokenizer

    if name == "paper":
        tok = TFMTokenizer.from_preset("paper", sfreq=256.0, max_steps=1, progress=False)
        return tok.fit(np.random.default_rng(0).standard_normal((1, 2560)))
    from tfsignal.tokenizers import load_tokenizer

    return load_tokenizer(name).set_params(progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokenizer", default="tfm", help="shipped name, a saved one's path, or 'paper'")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--plain", action="store_true", help="TFM: time the training forward, not the inference path")
    args = parser.parse_args()

    import torch

    from tfsignal.simulate import simulate_eeg

    rate = 256.0
    x = simulate_eeg(n_channels=args.channels, duration_s=60 * args.minutes, sfreq=rate, seed=0).astype("float32")
    tok = build(args.tokenizer)
    if args.plain:  # the same tokens through the layout training uses (TFMNet.encode)
        net = tok.network_
        net.tokens = lambda signals: net.quantizer.codes(net.encode(net.spectrogram(signals), signals))
    for threads in args.threads:
        torch.set_num_threads(threads)
        tok.transform(x[:, : int(10 * rate)], sfreq=rate)  # warm-up
        start = time.perf_counter()
        tokens = tok.transform(x, sfreq=rate)
        elapsed = time.perf_counter() - start
        row = {
            "tokenizer": args.tokenizer + (" (plain forward)" if args.plain else ""),
            "channels": args.channels,
            "minutes": args.minutes,
            "threads": threads,
            "seconds": round(elapsed, 2),
            "seconds_per_hour": round(elapsed * 60 / args.minutes, 2),
            "scaled_from_minutes": args.minutes if args.minutes != 60 else None,
            "tokens": list(tokens.shape),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
