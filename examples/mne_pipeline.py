"""mne.Epochs -> TFMTokenizer -> TokenHistogram -> LogisticRegression, cross-validated with scikit-learn.

    python examples/mne_pipeline.py                          # simulated EEG: with vs without alpha bursts
    python examples/mne_pipeline.py --edf rest.edf task.edf  # your two recordings, one class each

The shipped tokenizer ("tfm") is already trained, so it enters the pipeline frozen: cross-validation
fits only the histogram and the classifier on each training fold. Any montage, channel count and
sampling rate works; each channel is resampled to 200 Hz and tokenised on its own (2 tokens/s).
"""

from __future__ import annotations

import argparse

import mne
import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

from tfsignal.io import load_eeg
from tfsignal.simulate import simulate_eeg
from tfsignal.tokenizers import TFMTokenizer, TokenHistogram


def simulated_epochs(seconds: float = 4.0, n_per_class: int = 30) -> tuple[mne.Epochs, np.ndarray]:
    """Two classes of 19-channel simulated EEG at 256 Hz: alpha bursts on (1) or off (0)."""
    names = "Fp1 Fp2 F7 F3 Fz F4 F8 T7 C3 Cz C4 T8 P7 P3 Pz P4 P8 O1 O2".split()
    info = mne.create_info(names, 256.0, "eeg")
    data, labels = [], []
    for label, alpha in enumerate((False, True)):
        signal = simulate_eeg(len(names), seconds * n_per_class, 256.0, seed=label, alpha=alpha)
        data.append(signal.reshape(len(names), n_per_class, -1).transpose(1, 0, 2))
        labels += [label] * n_per_class
    return mne.EpochsArray(np.concatenate(data), info, verbose="error"), np.array(labels)


def recording_epochs(paths: list[str], seconds: float = 4.0) -> tuple[mne.Epochs, np.ndarray]:
    """Fixed-length epochs of each recording, labelled by the recording's position in ``paths``."""
    epochs, labels = [], []
    for label, path in enumerate(paths):
        raw = load_eeg(path).pick("eeg")
        part = mne.make_fixed_length_epochs(raw, duration=seconds, preload=True, verbose="error")
        epochs.append(part)
        labels += [label] * len(part)
    return mne.concatenate_epochs(epochs, verbose="error"), np.array(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edf", nargs=2, metavar=("CLASS0", "CLASS1"), help="two recordings, one per class")
    parser.add_argument("--tokenizer", default="tfm", help="shipped name or saved tokenizer .json")
    args = parser.parse_args()

    epochs, y = recording_epochs(args.edf) if args.edf else simulated_epochs()
    tokenizer = TFMTokenizer.load(args.tokenizer)
    pipeline = Pipeline(
        [
            ("tokens", FrozenEstimator(tokenizer)),  # (n_epochs, n_channels, n_tokens) integers
            ("histogram", TokenHistogram(n_codes=tokenizer.n_codes, sublinear=True)),  # per-channel token shares
            ("classifier", LogisticRegression(max_iter=2000)),
        ]
    )
    scores = cross_val_score(pipeline, epochs, y, cv=StratifiedKFold(5, shuffle=True, random_state=0))
    accuracy = f"{scores.mean():.3f} ± {scores.std():.3f}"
    print(f"{len(y)} epochs x {len(epochs.ch_names)} channels; 5-fold accuracy {accuracy}")


if __name__ == "__main__":
    main()
