"""TSPulse: published size, padding, masks, pre-training, zero-shot imputation and anomaly scores."""

import math

import numpy as np
import pytest
import torch

import tfsignal.models.tspulse as tspulse  # registers "tspulse" with tfsignal.models
from tfsignal import models
from tfsignal.classification import SeriesClassifier

# Small and deterministic (no dropout), so the short fits below take seconds on one core.
SMALL = dict(
    seq_len=64,
    patch_len=8,
    d_model=16,
    n_layers=2,
    n_decoder_layers=1,
    n_registers=4,
    register_layers=1,
    horizon=8,
    dropout=0.0,
    head_dropout=0.0,
)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def sines(n, length, seed, channels=1):
    """(n, length, channels) noiseless sines, periods 8..24 steps, random phase, amplitude and offset."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float32)[None, :, None]
    period = 8 + 16 * torch.rand(n, 1, channels, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, channels, generator=g)
    amplitude = 0.5 + torch.rand(n, 1, channels, generator=g)
    offset = torch.randn(n, 1, channels, generator=g)
    return offset + amplitude * torch.sin(2 * math.pi * t / period + phase)


@pytest.fixture(scope="module")
def pretrained():
    """A small TSPulse pre-trained for a few seconds on random sines (hybrid masks)."""
    torch.manual_seed(0)
    model = models.create("tspulse", **SMALL)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(150):
        loss = model.pretrain_loss(sines(32, 64, seed=step))["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def test_parameter_count_of_the_published_configuration():
    # Published model (granite-tsfm TSPulse, context 512, patch 8, one channel): d_model 24, MLP expansion 2,
    # 10 mixer layers (encoder + decoder) over 2 * 64 patches + R registers, 3 register mixer layers in
    # each of the FFT-prob (256 bins) and forecast (16 steps) heads. Counted by hand from that layer list:
    p, d, n, ef = 8, 24, 64, 2

    def mixer(tokens, width=d):
        mlp = lambda k: k * k * ef + k * ef + k * ef * k + k  # noqa: E731
        return 2 * width + mlp(tokens) + tokens * tokens + tokens + 2 * width + mlp(width) + width * width + width

    def expected(registers):
        tokens = 2 * n + registers
        inputs = 2 * (p * d + d) + p + 2 + registers * d + 2 * tokens * d  # embeddings, mask token, RevIN, norm
        heads = 2 * (d * p + p)  # time and FFT heads
        for out in (256, 16):  # FFT-prob and forecast heads
            heads += 3 * mixer(registers) + 2 * registers * d + registers * d * out + out
        return inputs + 10 * mixer(tokens) + heads

    assert n_params(models.create("tspulse")) == expected(8) == 1_042_330  # ANCHORS: ~1 M, 8 registers
    assert abs(1_042_330 / 1e6 - 1) < 0.05
    # The released tspulse-hybrid-dualhead-512-p8-r1 weights have 10 registers and 1,084,330 parameters.
    assert n_params(models.create("tspulse", n_registers=10)) == expected(10) == 1_084_330


def test_spectrum_features_invert_exactly():
    z = torch.randn(3, 64, 2, dtype=torch.float64)
    features, last, real_max, imag_max = tspulse.spectrum_features(z, 1e-3)
    assert features.shape == z.shape
    assert features.abs().max() <= 1.0  # each part scaled by its max |.|
    torch.testing.assert_close(tspulse.features_to_series(features, last, real_max, imag_max), z)


def test_padded_steps_do_not_change_logits_or_embeddings():
    torch.manual_seed(0)
    model = models.create("tspulse", **SMALL, n_channels=3, n_classes=4, decoder_channel_mixing=True).eval()
    x = torch.randn(2, 64, 3)
    mask = torch.zeros(2, 64, dtype=torch.bool)
    mask[0, 40:] = True
    y = x.clone()
    y[0, 40:] = 1e3
    with torch.no_grad():
        torch.testing.assert_close(model(x, mask), model(y, mask))
        for a, b in zip(model.embed(x, mask), model.embed(y, mask)):
            torch.testing.assert_close(a, b)
        assert not torch.allclose(model(x), model(y))  # without the mask the padding is data


def test_a_short_context_is_padded_in_front():
    # seq_len 29 runs on a 32-step context whose first 3 steps are missing: the same network as a
    # seq_len-32 model given those 3 steps as padding.
    torch.manual_seed(0)
    short = models.create("tspulse", **{**SMALL, "seq_len": 29}, n_classes=3).eval()
    full = models.create("tspulse", **{**SMALL, "seq_len": 32}, n_classes=3).eval()
    full.load_state_dict(short.state_dict())
    x = torch.randn(2, 29, 1)
    padded = torch.cat([torch.randn(2, 3, 1), x], dim=1)
    padding = torch.zeros(2, 32, dtype=torch.bool)
    padding[:, :3] = True
    with torch.no_grad():
        torch.testing.assert_close(short(x), full(padded, padding))
        assert short.anomaly_score(x).shape == (2, 29)
    assert short.context_len == 32


def test_masks_have_the_requested_ratio():
    model = models.create("tspulse", **SMALL)  # 64 steps = 8 patches of 8
    g = torch.Generator().manual_seed(0)
    hybrid = model.make_mask(100, "hybrid", 0.4, generator=g)
    assert hybrid.shape == (100, 64) and (hybrid.sum(1) == int(0.4 * 64)).all()
    whole = hybrid.view(100, 8, 8).all(-1).sum(1)
    assert (whole >= 2).all()  # two full patches, the rest points
    assert (hybrid.view(100, 8, 8).any(-1).sum(1) > 3).any()  # points scattered beyond those patches
    block = model.make_mask(100, "block", 0.5, generator=g)
    assert (block.sum(1) == 4 * 8).all()
    patches = block.view(100, 8, 8)
    assert (patches.all(-1) == patches.any(-1)).all()  # whole patches only
    assert not torch.equal(block[0], block[1])  # drawn per series
    with pytest.raises(ValueError, match="mask_type"):
        model.make_mask(2, "random", 0.3)
    with pytest.raises(ValueError, match="mask_ratio"):
        model.pretrain_loss(torch.randn(2, 64, 1), mask_ratio=1.5)


def test_pretrain_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = models.create("tspulse", **SMALL)
    x = sines(16, 64, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = []
    for _ in range(20):  # the same masks every step
        losses = model.pretrain_loss(x, mask_type="block", generator=torch.Generator().manual_seed(0))
        optimizer.zero_grad()
        losses["total"].backward()
        optimizer.step()
        history.append({name: value.item() for name, value in losses.items()})
    assert set(losses) == {"time", "fft", "fft_series", "fft_prob", "forecast", "total"}
    assert all(math.isfinite(v) for step in history for v in step.values())
    assert history[-1]["total"] < 0.7 * history[0]["total"]
    # the FFT-prob cross-entropy cannot fall below the entropy of its target; the other terms can
    reconstruction = [step["total"] - step["fft_prob"] for step in history]
    assert reconstruction[-1] < 0.6 * reconstruction[0]


def test_impute_beats_zero_and_mean_filling_on_a_planted_sine(pretrained):
    x = sines(8, 64, seed=1234)
    missing = torch.rand(8, 64, generator=torch.Generator().manual_seed(1)) < 0.25
    filled = pretrained.impute(x, missing)
    assert torch.equal(filled[~missing], x[~missing])  # observed points are kept
    target = x[missing]
    model_mse = ((filled[missing] - target) ** 2).mean()
    zero_mse = (target**2).mean()
    observed_mean = (x * ~missing[..., None]).sum(1, keepdim=True) / (~missing).sum(1)[:, None, None]
    mean_mse = ((observed_mean.expand_as(x)[missing] - target) ** 2).mean()
    assert model_mse < 0.5 * zero_mse
    assert model_mse < 0.5 * mean_mse


def test_anomaly_score_peaks_at_a_planted_spike(pretrained):
    x = sines(4, 64, seed=99)
    spike_at = torch.tensor([13, 30, 41, 58])
    amplitude = (x.amax(1) - x.amin(1)).squeeze(-1)
    x[torch.arange(4), spike_at, 0] += 1.5 * amplitude
    score = pretrained.anomaly_score(x)
    assert score.shape == (4, 64) and score.min() >= 0 and score.max() <= 1
    assert ((score.argmax(1) - spike_at).abs() <= 2).all()
    far = (torch.arange(64)[None, :] - spike_at[:, None]).abs() > 4
    assert score[far].mean() < 0.15  # the rest of the series stays low


def test_embeddings_and_their_sizes():
    model = models.create("tspulse", **SMALL, n_channels=2).eval()
    with torch.no_grad():
        semantic, detailed = model.embed(torch.randn(3, 64, 2))
    assert semantic.shape == (3, 2 * 4 * 16)  # C * registers * d_model
    assert detailed.shape == (3, 2 * 2 * 8 * 16)  # C * (time + FFT patches) * d_model


def test_errors_a_user_can_trigger():
    model = models.create("tspulse", **SMALL, n_channels=2, n_classes=3)
    with pytest.raises(ValueError, match=r"\(batch, 64, 2\)"):
        model(torch.randn(1, 60, 2))
    with pytest.raises(ValueError, match=r"\(batch, 64, 2\)"):
        model.embed(torch.randn(64, 2))
    with pytest.raises(ValueError, match="padding_mask"):
        model(torch.randn(1, 64, 2), torch.zeros(1, 63, dtype=torch.bool))
    with pytest.raises(ValueError, match="missing_mask"):
        model.impute(torch.randn(1, 64, 2), torch.zeros(1, 64, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="no classification head"):
        models.create("tspulse", **SMALL)(torch.randn(1, 64, 1))
    with pytest.raises(ValueError, match="patch_len"):
        models.create("tspulse", patch_len=7)


def test_config_survives_save_and_load(tmp_path):
    model = models.create("tspulse", **SMALL, n_classes=2, periods=[8, 5]).eval()
    loaded = models.load(models.save(model, tmp_path / "m").parent)
    assert loaded.config.periods == [8, 5]
    x = model.example_inputs()[0]
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_classifier_learns_a_planted_period_through_the_tslens_head():
    rng = np.random.default_rng(0)

    def planted(n):  # two classes of noisy 2-channel sines (period 8 vs 12), lengths 40..64
        series, labels = [], []
        for i in range(n):
            t = np.arange(rng.integers(40, 65))
            clean = np.stack([np.sin(2 * np.pi * t / (8, 12)[i % 2] + rng.uniform(0, 6.3)) for _ in range(2)])
            series.append((clean + 0.4 * rng.standard_normal(clean.shape)).astype(np.float32))
            labels.append(f"class{i % 2}")
        return series, np.array(labels)

    X, y = planted(80)
    X_test, y_test = planted(60)
    options = {**SMALL, "decoder_channel_mixing": True, "dropout": 0.1, "head_dropout": 0.1}
    del options["seq_len"]  # the wrapper sets it: the longest training series
    clf = SeriesClassifier("tspulse", model_options=options, epochs=20, patience=20, progress=False)
    assert clf.fit(X, y).score(X_test, y_test) >= 0.9
