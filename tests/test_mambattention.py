"""MambAttention: published parameter counts, shapes, shared attention, and that it learns."""

import pytest
import torch

from tfsignal import models
from tfsignal.metrics import si_sdr
from tfsignal.nn import MultiHeadAttention
from tfsignal.train import enhancement_loss


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_the_papers():
    assert n_params(models.create("mambattention")) == 2_325_841  # ANCHORS: 2.33 M (2,325,841)
    assert abs(n_params(models.create("semamba")) / 2.25e6 - 1) < 0.01  # SEMamba: 2.25 M


def test_one_attention_module_per_block_shared_by_time_and_frequency():
    model = models.create("mambattention")
    attentions = [m for m in model.modules() if isinstance(m, MultiHeadAttention)]
    assert len(attentions) == model.config.n_blocks
    calls = []
    hook = attentions[0].register_forward_hook(lambda m, i, o: calls.append(tuple(i[0].shape)))
    small = models.create("mambattention", n_blocks=1, channels=8, heads=2, expand=1)
    hook.remove()
    block_attention = next(m for m in small.modules() if isinstance(m, MultiHeadAttention))
    block_attention.register_forward_hook(lambda m, i, o: calls.append(tuple(i[0].shape)))
    with torch.no_grad():
        small.enhance(torch.randn(1, 1600))  # 17 frames, 100 bins after the encoder
    assert calls == [(100, 17, 8), (17, 100, 8)]  # the same module ran along time, then frequency
    assert not any(isinstance(m, MultiHeadAttention) for m in models.create("semamba").modules())


@pytest.mark.parametrize("shape", [(3200,), (2, 3203)])
def test_enhance_keeps_shape_and_is_finite(shape):
    model = models.create("mambattention-tiny").eval()
    with torch.no_grad():
        out = model.enhance(torch.randn(shape))
    assert out.shape == shape
    assert torch.isfinite(out).all()


def test_forward_outputs_are_consistent():
    model = models.create("mambattention-tiny").eval()
    mag, phase = model.example_inputs(0.2)
    with torch.no_grad():
        out_mag, out_phase, out_complex = model(mag, phase)
    assert out_mag.shape == out_phase.shape == mag.shape
    assert out_complex.shape == (*mag.shape, 2)
    assert (out_mag >= 0).all() and (out_mag <= model.config.mask_beta * mag + 1e-6).all()
    assert out_phase.abs().max() <= torch.pi + 1e-6


def sine_batch():
    t = torch.arange(4000) / 16000
    clean = 0.5 * torch.sin(2 * torch.pi * 220 * t)[None].repeat(2, 1)
    return clean + 0.3 * torch.randn(2, 4000), clean


def fit_steps(model, noisy, clean, steps=15, lr=2e-3):
    """Train on one fixed batch; the total loss and the waveform L1 error at every step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    totals, wave_errors = [], []
    for _ in range(steps):
        terms = enhancement_loss(model, noisy, clean)
        optimizer.zero_grad()
        terms["total"].backward()
        optimizer.step()
        totals.append(terms["total"].item())
        wave_errors.append(terms["time"].item())
    return totals, wave_errors


def test_a_few_steps_reduce_the_losses_on_a_fixed_batch():
    torch.manual_seed(0)
    model = models.create("mambattention-tiny", phase="direct")  # the paper's phase decoder
    totals, wave_errors = fit_steps(model, *sine_batch())
    assert totals[-1] < 0.9 * totals[0]
    assert wave_errors[-1] < 0.5 * wave_errors[0]  # the waveform error (L1) more than halves


def test_residual_phase_starts_as_the_identity_and_learns():
    torch.manual_seed(0)
    model = models.create("mambattention-tiny")
    assert model.config.phase == "residual"
    noisy, clean = sine_batch()
    with torch.no_grad():
        passed = model.enhance(noisy)
    assert si_sdr(passed, noisy).min() > 60  # untrained: the input comes back (up to the STFT round trip)
    totals, wave_errors = fit_steps(model, noisy, clean, steps=20, lr=5e-3)
    assert totals[-1] < 0.9 * totals[0]
    assert wave_errors[-1] < 0.7 * wave_errors[0]
    with torch.no_grad():
        assert si_sdr(model.enhance(noisy), clean).mean() > si_sdr(noisy, clean).mean() + 2.0


def test_unknown_phase_mode_is_refused():
    with pytest.raises(ValueError, match="phase must be"):
        models.create("mambattention-tiny", phase="noisy")


def test_saved_weights_round_trip_with_normal_permissions(tmp_path):
    import os
    import stat

    model = models.create("mambattention-tiny")
    old = os.umask(0o022)
    try:
        path = models.save(model, tmp_path / "enhancer")
    finally:
        os.umask(old)
    for suffix in (".safetensors", ".json"):
        assert stat.S_IMODE(path.with_suffix(suffix).stat().st_mode) == 0o644
    loaded = models.load(tmp_path)
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value)
