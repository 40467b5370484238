"""scikit-learn's estimator checks on the tokenizers and the series classifier.

Exclusions, each by design: a tokenizer takes signals of any length and any channel count (a
montage is not fixed at fit time), so it sets no ``n_features_in_`` and accepts a different number
of samples in ``transform`` than in ``fit``. The TFM tokenizer is given a 1 Hz rate here so that the
checks' few-sample arrays last long enough (it needs 2 s) once resampled to its 200 Hz.
SeriesClassifier reads a 2-D X as (n_series, time): the checks' features are time steps. Shorter
series are padded at prediction and a list of series of different lengths has no one feature
count, so it sets no ``n_features_in_`` either; it allows NaN (a missing step) and refuses
infinity. It runs here with a network a few hundred parameters wide, for speed.

Not run here: TokenHistogram and TokenTransformerClassifier take integer token arrays
(n_epochs, n_channels, n_tokens), which the checks cannot generate (tests/test_token_histogram.py and
tests/test_tokenizers.py cover their API).
"""

import pytest

pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from tfsignal.classification import SeriesClassifier  # noqa: E402
from tfsignal.tokenizers import SampleTokenizer, TFMTokenizer  # noqa: E402

ANY_LENGTH = "tokenizers take any number of samples and channels, so no n_features_in_"
EXCLUDED = {
    "check_n_features_in": ANY_LENGTH,
    "check_n_features_in_after_fitting": ANY_LENGTH,
    "check_transformer_general": ANY_LENGTH,
}
SERIES_LENGTH = "series of any length up to the longest seen in fit are padded, so no n_features_in_"
SERIES_EXCLUDED = {
    "check_n_features_in": SERIES_LENGTH,
    "check_n_features_in_after_fitting": SERIES_LENGTH,
}
TINY_NETWORK = dict(embed_dim=8, window_dim=8, heads=2, ff_dim=16, cnn_hidden=8, n_kernels=2, n_blocks=1)
TINY = dict(max_steps=2, batch_size=2, progress=False)
ESTIMATORS = [
    SampleTokenizer(n_codes=8, hidden=4, window_s=0.5, sfreq=250.0, refit_kernels=False, **TINY),
    TFMTokenizer(n_codes=8, dim=8, heads=1, window_s=2.0, sfreq=1.0, **TINY),
    SeriesClassifier(
        epochs=5, lr=2e-2, batch_size=64, val_folds=0, n_periods=2, model_options=TINY_NETWORK, progress=False
    ),
]


def _excluded(estimator) -> dict[str, str]:
    return SERIES_EXCLUDED if isinstance(estimator, SeriesClassifier) else EXCLUDED


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_excluded)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
