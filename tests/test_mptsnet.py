"""MPTSNet: published widths, the fused inception equals the published one, padding, periods, learning."""

import numpy as np
import pytest
import torch

from tfsignal import models
from tfsignal.classification import SeriesClassifier
from tfsignal.models import mptsnet

SMALL = dict(embed_dim=16, window_dim=32, ff_dim=32, cnn_hidden=16, heads=2)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_published_widths_follow_the_channel_count():
    for channels, embed, window in [(1, 64, 256), (12, 64, 256), (40, 160, 512), (100, 256, 512)]:
        cfg = models.create("mptsnet", n_channels=channels, seq_len=30, periods=[5]).config
        assert (cfg.embed_dim, cfg.window_dim) == (embed, window)


def test_parameter_count_of_the_published_configuration():
    # JapaneseVowels shape (12 channels, 29 steps, 9 classes) with 5 periods. Counted by hand from the
    # published layer list: embedding 12*64*3; per block an inception pair 64->1024->64 (kernels 1..11,
    # 6 biases each, CBAM with reduction 16 and a 7-tap spatial conv), one global and five segment
    # transformers (CLS, 1 layer, 4 heads, FFN 256), one shared LayerNorm, linear head over 64*29.
    periods = [14, 10, 7, 5, 4]
    e, w, ff = 64, 256, 256

    def inception(ci, co):
        return 36 * ci * co + 6 * co + 2 * co * (co // 16) + 2 * 7

    def layer(d):
        return 4 * d * d + 4 * d + 2 * d * ff + ff + d + 4 * d

    def cls_transformer(d_in, d):
        proj = d_in * d + d if d_in != d else 0
        return proj + d + layer(d) + 2 * d * d_in + d_in

    block = inception(e, 1024) + inception(1024, e) + cls_transformer(e, e)
    block += sum(cls_transformer(e * p, w) for p in periods)
    expected = 12 * e * 3 + 2 * block + 2 * e + (e * 29 * 9 + 9)
    model = models.create("mptsnet", n_channels=12, seq_len=29, n_classes=9, periods=periods)
    assert n_params(model) == expected == 17_617_793


def test_the_mean_head_pools_time_and_unknown_heads_are_refused():
    shape = dict(n_channels=12, seq_len=29, n_classes=9, periods=[14, 10, 7, 5, 4])
    flat, mean = (models.create("mptsnet", head=h, **shape) for h in ("flatten", "mean"))
    assert n_params(flat) - n_params(mean) == 64 * 28 * 9  # the head sees 64 features, not 64 * 29
    with pytest.raises(ValueError, match="head"):
        models.create("mptsnet", head="max", **shape)


def test_fused_inception_equals_one_convolution_per_kernel():
    torch.manual_seed(0)
    block = mptsnet.InceptionCBAM(8, 24, mptsnet.Config())
    x = torch.randn(5, 8, 13)
    torch.testing.assert_close(block(x), block.forward_reference(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("head", ["flatten", "mean"])
def test_padded_steps_do_not_change_the_logits(head):
    torch.manual_seed(0)
    model = models.create("mptsnet", n_channels=3, seq_len=24, n_classes=4, periods=[6, 4], head=head, **SMALL).eval()
    x = torch.randn(2, 24, 3)
    mask = torch.zeros(2, 24, dtype=torch.bool)
    mask[0, 15:] = True
    y = x.clone()
    y[0, 15:] = 1e3
    with torch.no_grad():
        torch.testing.assert_close(model(x, mask), model(y, mask))
        assert not torch.allclose(model(x), model(y))  # without the mask the padding is data


def test_periods_live_in_the_config_and_are_never_recomputed(monkeypatch, tmp_path):
    model = models.create("mptsnet", n_channels=2, seq_len=32, n_classes=2, periods=[8, 5], **SMALL).eval()
    path = models.save(model, tmp_path / "m")

    def forbidden(*args, **kwargs):
        raise AssertionError("periods recomputed")

    monkeypatch.setattr(mptsnet, "top_k_periods", forbidden)
    loaded = models.load(path.parent)
    assert loaded.config.periods == [8, 5]
    with torch.no_grad():
        torch.testing.assert_close(loaded(torch.ones(1, 32, 2)), model(torch.ones(1, 32, 2)))


def test_wrong_input_shape_is_refused():
    model = models.create("mptsnet", n_channels=2, seq_len=32, periods=[8], **SMALL)
    with pytest.raises(ValueError, match=r"\(batch, 32, 2\)"):
        model(torch.randn(1, 30, 2))


def planted(n, seed):
    """Two classes of noisy 2-channel sines (period 8 vs 12), lengths 40..64: a list of (C, T) arrays."""
    rng = np.random.default_rng(seed)
    series, labels = [], []
    for i in range(n):
        label = i % 2
        length = int(rng.integers(40, 65))
        t = np.arange(length)
        period = 8 if label == 0 else 12
        clean = np.stack([np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3)) for _ in range(2)])
        series.append((clean + 0.4 * rng.standard_normal(clean.shape)).astype(np.float32))
        labels.append(f"class{label}")
    return series, np.array(labels)


def test_classifier_learns_a_planted_period_on_variable_length_series(tmp_path):
    X, y = planted(80, seed=0)
    X_test, y_test = planted(60, seed=1)
    clf = SeriesClassifier("mptsnet", model_options=SMALL, epochs=12, patience=4, val_folds=2, progress=False)
    clf.fit(X, y)
    assert clf.score(X_test, y_test) >= 0.9
    assert 8 in clf.periods_ or 12 in clf.periods_  # the front end found a planted period
    clf.save(tmp_path / "clf")
    again = SeriesClassifier.load(tmp_path / "clf")
    np.testing.assert_array_equal(again.predict(X_test), clf.predict(X_test))
    with pytest.raises(ValueError, match="more than the 64"):
        clf.predict([np.zeros((2, 80), dtype=np.float32)])


def test_seq_len_leaves_room_for_longer_series_at_test_time():
    X, y = planted(8, seed=2)  # lengths 40..64
    clf = SeriesClassifier("mptsnet", model_options=SMALL, epochs=1, seq_len=70, progress=False).fit(X, y)
    assert clf.network_.config.seq_len == 70
    assert clf.predict([np.zeros((2, 70), dtype=np.float32)]).shape == (1,)
