"""TokenHistogram: exact counts, normalisation, pooling, code dropping, refusals, and use in a Pipeline."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from tfsignal.tokenizers.histogram import TokenHistogram

# Two epochs, two channels, four tokens each. Code totals over both: 0 → 5, 1 → 3, 2 → 6, 3 → 2.
TOKENS = np.array(
    [
        [[0, 1, 1, 2], [2, 2, 2, 2]],
        [[0, 0, 0, 3], [1, 2, 3, 0]],
    ]
)


def test_exact_per_channel_frequencies():
    hist = TokenHistogram().fit(TOKENS)
    assert hist.n_codes_ == 4 and hist.n_channels_ == 2
    np.testing.assert_array_equal(hist.code_counts_, [5, 3, 6, 2])
    expected = np.array(
        [
            [1 / 4, 2 / 4, 1 / 4, 0, 0, 0, 1, 0],
            [3 / 4, 0, 0, 1 / 4, 1 / 4, 1 / 4, 1 / 4, 1 / 4],
        ]
    )
    np.testing.assert_array_equal(hist.transform(TOKENS), expected)
    names = hist.get_feature_names_out()
    assert list(names[:5]) == ["ch0_code0", "ch0_code1", "ch0_code2", "ch0_code3", "ch1_code0"]
    assert hist.get_feature_names_out(["C3", "C4"])[-1] == "C4_code3"


def test_each_channel_sums_to_one_and_a_single_epoch_is_one_row():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 50, size=(7, 5, 33))
    hist = TokenHistogram(n_codes=64)
    features = hist.fit_transform(tokens)
    assert features.shape == (7, 5 * 64)
    np.testing.assert_allclose(features.reshape(7, 5, 64).sum(-1), 1.0)
    assert not features.reshape(7, 5, 64)[..., 50:].any()  # codes never drawn stay at zero
    np.testing.assert_array_equal(hist.transform(tokens[3]), features[3:4])


def test_pool_channels_counts_all_channels_of_an_epoch_together():
    hist = TokenHistogram(pool_channels=True).fit(TOKENS)
    np.testing.assert_array_equal(hist.transform(TOKENS), [[1 / 8, 2 / 8, 5 / 8, 0], [4 / 8, 1 / 8, 1 / 8, 2 / 8]])
    assert list(hist.get_feature_names_out()) == ["code0", "code1", "code2", "code3"]
    more_channels = np.concatenate([TOKENS, TOKENS], axis=1)  # pooled features do not depend on channel count
    np.testing.assert_array_equal(hist.transform(more_channels), hist.transform(TOKENS))


def test_sublinear_is_the_square_root_and_has_unit_norm_per_channel():
    plain = TokenHistogram().fit_transform(TOKENS)
    root = TokenHistogram(sublinear=True).fit_transform(TOKENS)
    np.testing.assert_allclose(root, np.sqrt(plain))
    np.testing.assert_allclose(np.linalg.norm(root.reshape(2, 2, 4), axis=-1), 1.0)


def test_min_count_drops_rare_codes_and_keeps_shares_of_all_tokens():
    hist = TokenHistogram(min_count=3).fit(TOKENS)  # code 3 occurs twice
    np.testing.assert_array_equal(hist.kept_codes_, [0, 1, 2])
    features = hist.transform(TOKENS)
    np.testing.assert_array_equal(features, [[1 / 4, 2 / 4, 1 / 4, 0, 0, 1], [3 / 4, 0, 0, 1 / 4, 1 / 4, 1 / 4]])
    assert list(hist.get_feature_names_out()) == [f"ch{c}_code{k}" for c in (0, 1) for k in (0, 1, 2)]
    # min_count=1 drops exactly the codes that fit never saw
    sparse = TokenHistogram(n_codes=10, min_count=1).fit(TOKENS)
    np.testing.assert_array_equal(sparse.kept_codes_, [0, 1, 2, 3])


def test_transform_leaves_its_input_alone_and_reads_read_only_arrays():
    tokens = TOKENS.copy()
    tokens.setflags(write=False)
    TokenHistogram(sublinear=True, min_count=3).fit(tokens).transform(tokens)
    np.testing.assert_array_equal(tokens, TOKENS)


@pytest.mark.parametrize(
    "tokens, message",
    [
        (TOKENS.astype(float), "integer codes"),
        (TOKENS > 1, "integer codes"),
        (TOKENS - 1, "non-negative"),
        (np.arange(5), "shaped"),
        (TOKENS[None], "shaped"),
        (np.zeros((2, 2, 0), dtype=int), "no tokens"),
    ],
)
def test_bad_tokens_are_refused_clearly(tokens, message):
    with pytest.raises(ValueError, match=message):
        TokenHistogram().fit(tokens)
    fitted = TokenHistogram().fit(TOKENS)
    with pytest.raises(ValueError, match=message):
        fitted.transform(tokens)


def test_bad_parameters_and_mismatched_inputs_are_refused():
    for params in ({"n_codes": 0}, {"n_codes": 2.5}, {"n_codes": True}, {"min_count": -1}):
        with pytest.raises(ValueError, match=next(iter(params))):
            TokenHistogram(**params).fit(TOKENS)
    with pytest.raises(ValueError, match="outside the codebook of n_codes=3"):
        TokenHistogram(n_codes=3).fit(TOKENS)
    with pytest.raises(ValueError, match="min_count=100"):
        TokenHistogram(min_count=100).fit(TOKENS)
    fitted = TokenHistogram().fit(TOKENS)
    with pytest.raises(ValueError, match=r"token 4 is outside .*n_codes_=4"):
        fitted.transform(TOKENS + 1)
    with pytest.raises(ValueError, match="3 channels, fit saw 2"):
        fitted.transform(np.zeros((1, 3, 4), dtype=int))
    with pytest.raises(ValueError, match="names 1 channels"):
        fitted.get_feature_names_out(["C3"])


def test_follows_the_scikit_learn_estimator_contract():
    hist = TokenHistogram(n_codes=8, pool_channels=True, sublinear=True, min_count=2)
    copy = clone(hist)
    assert copy is not hist and copy.get_params() == hist.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(hist)
    with pytest.raises(NotFittedError):
        hist.transform(TOKENS)
    assert hist.fit(TOKENS) is hist
    check_is_fitted(hist)
    with pytest.raises(NotFittedError):
        check_is_fitted(clone(hist))  # a clone starts unfitted
    assert hist.set_params(min_count=0).get_params()["min_count"] == 0


def planted_tokens(n_per_class=60, n_channels=4, n_tokens=96, n_codes=16, seed=0):
    """Class 1 draws codes 3 and 7 three times as often as class 0 does, on channel 2 only."""
    rng = np.random.default_rng(seed)
    base = np.full(n_codes, 1.0)
    shifted = base.copy()
    shifted[[3, 7]] = 3.0
    tokens, labels = [], []
    for label in (0, 1):
        for _ in range(n_per_class):
            epoch = rng.choice(n_codes, size=(n_channels, n_tokens), p=base / base.sum())
            if label == 1:
                epoch[2] = rng.choice(n_codes, size=n_tokens, p=shifted / shifted.sum())
            tokens.append(epoch)
            labels.append(label)
    return np.stack(tokens), np.array(labels)


def test_a_pipeline_recovers_a_planted_difference_in_token_distributions():
    tokens, labels = planted_tokens()
    pipeline = Pipeline([("hist", TokenHistogram(sublinear=True)), ("lr", LogisticRegression(max_iter=1000))])
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    assert cross_val_score(pipeline, tokens, labels, cv=cv).mean() > 0.9
    shuffled = np.random.default_rng(1).permutation(labels)  # no signal left: near chance
    assert cross_val_score(pipeline, tokens, shuffled, cv=cv).mean() < 0.7
