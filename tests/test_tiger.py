"""TIGER: published parameter counts, band table at four rates, masks, shared block, PIT, ONNX."""

import math

import pytest
import torch

from tfsignal import models
from tfsignal.frontends import TIGER_BANDS_HZ, band_edges
from tfsignal.metrics import pit, si_sdr


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def small_tiger(**overrides):
    """A TIGER small enough to train and export in seconds on one CPU core."""
    config = dict(channels=16, msa_channels=32, msa_scales=3, n_repeats=1, heads=2, qk_channels=2)
    return models.create("tiger-tiny", **{**config, **overrides})


def test_parameter_counts_match_the_paper():
    small, large = models.create("tiger-small"), models.create("tiger-large")
    counts = {"tiger-small": n_params(small), "tiger-large": n_params(large)}
    print(counts)
    for count in counts.values():
        assert abs(count / 0.82e6 - 1) < 0.02  # ANCHORS: 0.82 M for both sizes
    assert counts["tiger-small"] == counts["tiger-large"] == 821_932
    assert (small.config.n_repeats, large.config.n_repeats) == (4, 8)


def test_one_ffi_block_is_reused_with_shared_weights():
    model = models.create("tiger-large")
    blocks = [m for m in model.modules() if type(m).__name__ == "FFIBlock"]
    assert len(blocks) == 1
    separator = n_params(model.separator)
    assert separator == n_params(model.separator.block) + n_params(model.separator.refeed)
    tiny = small_tiger(n_repeats=3)
    calls = []
    tiny.separator.block.register_forward_hook(lambda m, i, o: calls.append(tuple(i[0].shape)))
    with torch.no_grad():
        tiny(torch.randn(1, 1600))
    assert len(calls) == 3 and len(set(calls)) == 1  # the same module ran three times


# rate: (n_fft for 40 ms, number of bands, last edge in Hz = where the leftover band starts)
TABLES = {8000: (320, 59, 4000), 16000: (640, 67, 8000), 44100: (1764, 67, 8000), 48000: (1920, 67, 8000)}


@pytest.mark.parametrize("rate", sorted(TABLES))
def test_band_table_at_four_rates(rate):
    n_fft, n_bands, top = TABLES[rate]
    model = models.create("tiger-tiny", sample_rate=rate)
    assert (model.config.n_fft, model.config.hop_length) == (n_fft, rate // 100)
    bands = model.bands
    assert len(bands) == n_bands
    # edges in Hz: 40 x 25 Hz to 1 kHz, 10 x 100 Hz to 2 kHz, 8 x 250 Hz to 4 kHz, 8 x 500 Hz to 8 kHz,
    # cut at Nyquist; one leftover band from the last edge to Nyquist
    widths_hz = [25] * 40 + [100] * 10 + [250] * 8 + [500] * 8
    expected = [0.0]
    for w in widths_hz:
        if expected[-1] + w <= rate / 2:
            expected.append(expected[-1] + w)
    assert bands.edges_hz == pytest.approx(expected) and expected[-1] == top
    assert bands.edges_hz == band_edges(TIGER_BANDS_HZ, max_hz=rate / 2)
    bin_hz = rate / n_fft
    assert bin_hz == pytest.approx(25.0)
    for (start, _), low in zip(bands.ranges, bands.edges_hz):
        assert start * bin_hz == pytest.approx(low)  # every band starts on its edge's bin
    covered = [b for start, stop in bands.ranges for b in range(start, stop)]
    assert covered == list(range(n_fft // 2 + 1))  # every bin in exactly one band
    assert bands.ranges[-1] == (round(top / bin_hz), n_fft // 2 + 1)  # leftover: last edge to Nyquist
    assert len(model.band_encoders) == len(model.mask_decoders) == n_bands


@pytest.mark.parametrize("n_sources", [2, 3])
def test_masks_sum_to_one_and_sources_sum_to_the_mixture(n_sources):
    torch.manual_seed(0)
    model = small_tiger(n_sources=n_sources).eval()  # 16 channels: grouped by source for 2, not for 3
    mix = 0.1 * torch.randn(2, 4000)
    with torch.no_grad():
        spec = model.stft.stft(mix, return_complex=False).permute(0, 3, 1, 2)  # (B, 2, F, frames)
        masks = model.masks(spec)
        sources = model(mix)
    assert masks.shape == (2, n_sources, 2, 321, spec.shape[-1])
    total = masks.sum(1)
    assert torch.allclose(total[:, 0], torch.ones_like(total[:, 0]), atol=1e-5)  # real parts sum to 1
    assert torch.allclose(total[:, 1], torch.zeros_like(total[:, 1]), atol=1e-5)  # imaginary parts to 0
    assert masks.std() > 0.01  # not a constant split
    assert sources.shape == (2, n_sources, 4000)
    assert (sources.sum(1) - mix).abs().max() < 1e-5  # STFT round-trip error only


def test_published_size_runs_at_16k():
    model = models.create("tiger-small").eval()
    with torch.no_grad():
        out = model(0.1 * torch.randn(1, 4000))
    assert out.shape == (1, 2, 4000) and torch.isfinite(out).all()


def test_save_and_load_keep_the_band_table(tmp_path):
    model = small_tiger(sample_rate=8000).eval()
    models.save(model, tmp_path / "tiger")
    loaded = models.load(tmp_path / "tiger")
    assert loaded.bands.ranges == model.bands.ranges and loaded.config == model.config
    x = 0.1 * torch.randn(1, 2000)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def harmonic(f0: float, am: float, t: torch.Tensor) -> torch.Tensor:
    tone = sum(torch.sin(2 * math.pi * f0 * k * t + k) / k for k in range(1, 6))
    return tone * (0.6 + 0.4 * torch.sin(2 * math.pi * am * t))


def test_pit_training_separates_two_planted_sources():
    torch.manual_seed(0)
    rate = 8000
    t = torch.arange(4000) / rate
    pairs = [((150, 3), (620, 5)), ((180, 2), (540, 4))]  # (pitch, amplitude modulation) per source
    sources = 0.3 * torch.stack([torch.stack([harmonic(f0, am, t) for f0, am in pair]) for pair in pairs])
    # (2 mixtures, 2 sources, 0.5 s)
    mix = sources.sum(1)
    model = small_tiger(sample_rate=rate, dropout=0.0)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss = -pit(si_sdr, model(mix), sources)[0].mean()  # PIT SI-SNR loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    print(f"PIT SI-SNR: {-losses[0]:.1f} dB -> {-losses[-1]:.1f} dB")
    assert losses[-1] < losses[0] - 8 and -losses[-1] > 8


def test_onnx_export_matches_torch(small_tiger):
    pytest.importorskip("onnxruntime")
    from tfsignal.export import check

    # the session's small TIGER (tests/conftest.py): few bands and scales keep the graph small
    # (export time grows with its node count); odd lengths at every scale exercise the partial
    # pooling windows
    model, _, path = small_tiger
    assert len(model.bands) == 3
    for seconds in (0.5, 0.77):
        x = model.example_inputs(seconds)
        assert check(path, model, x) < 1e-4


def test_cpu_config_fits_the_mac_budget():
    from torch.utils.flop_counter import FlopCounterMode

    model = models.create("tiger-cpu").eval()
    cfg = model.config
    assert (cfg.n_fft, cfg.hop_length) == (512, 256)  # 32 ms window, 16 ms hop at 16 kHz
    assert len(model.bands) == 33 and model.bands.widths[:16] == [1] * 16  # 1-bin bands below 500 Hz
    assert n_params(model) == 73_106
    seconds = 8.0  # tfsignal separate's chunk: attention across frames grows with the length
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(0.1 * torch.randn(1, round(seconds * 16000)))
    gmacs = counter.get_total_flops() / 2 / seconds / 1e9
    print(f"tiger-cpu: {gmacs:.3f} GMAC per second of audio")
    # measured per second of audio on 1 / 4 / 8 s inputs: 0.071 / 0.102 / 0.143 GMAC (tiger-tiny
    # 0.392 / 0.582 / 0.839, tiger-small 7.18 / 8.27 / 9.80); the budget is 0.15
    assert gmacs <= 0.15


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_conv_equals_conv1d_in_values_and_gradients(stride):
    from tfsignal.models.tiger import DepthwiseConv1d

    torch.manual_seed(0)
    conv = DepthwiseConv1d(12, 5, stride=stride)
    x = torch.randn(3, 12, 29, requires_grad=True)
    y = conv(x)
    reference = torch.nn.functional.conv1d(x, conv.weight, conv.bias, stride, 2, groups=12)
    assert y.shape == reference.shape == (3, 12, 29 if stride == 1 else 15)
    assert torch.allclose(y, reference, atol=1e-6)
    grad = torch.randn_like(y)
    ours = torch.autograd.grad(y, (x, conv.weight, conv.bias), grad)
    theirs = torch.autograd.grad(reference, (x, conv.weight, conv.bias), grad)
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, atol=1e-5)
    assert isinstance(models.create("tiger-cpu").separator.block.band_msa.scales[1][0], DepthwiseConv1d)
