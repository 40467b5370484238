import numpy as np
import pytest
import torch

from tfsignal.io import load_audio
from tfsignal.metrics import estoi, pesq, pit, si_sdr


def test_si_sdr_known_values_numpy_and_torch():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((4, 8000))
    noise = rng.standard_normal((4, 8000))
    noise -= (noise * ref).sum(-1, keepdims=True) / (ref * ref).sum(-1, keepdims=True) * ref
    noise *= np.linalg.norm(ref, axis=-1, keepdims=True) / np.linalg.norm(noise, axis=-1, keepdims=True)
    est = 3.0 * (ref + 0.1 * noise)  # orthogonal noise 20 dB down, arbitrary gain
    want = np.full(4, 20.0)
    assert np.allclose(si_sdr(est, ref, zero_mean=False), want, atol=1e-3)
    got = si_sdr(torch.tensor(est), torch.tensor(ref), zero_mean=False)
    assert isinstance(got, torch.Tensor) and torch.allclose(got, torch.tensor(want), atol=1e-3)
    assert np.allclose(si_sdr(est, ref), si_sdr(torch.tensor(est), torch.tensor(ref)).numpy())


@pytest.mark.parametrize("n_src", [2, 3, 4, 5])
def test_pit_recovers_the_permutation(n_src):
    gen = torch.Generator().manual_seed(n_src)
    ref = torch.randn(3, n_src, 4000, generator=gen)
    perms = [torch.randperm(n_src, generator=gen) for _ in range(3)]
    est = torch.stack([ref[b, p] for b, p in enumerate(perms)]) + 0.05 * torch.randn(3, n_src, 4000)
    est.requires_grad_(True)
    best, perm, reordered = pit(si_sdr, est, ref)
    for b in range(3):
        # perm[b, j] is the estimate for reference j: est[b, perm[b, j]] ~ ref[b, j]
        assert torch.equal(perms[b][perm[b]], torch.arange(n_src))
    assert (best > 20).all()
    assert torch.allclose(reordered, est.detach()[torch.arange(3)[:, None], perm], atol=0)
    (-best.mean()).backward()  # usable as a PIT loss
    assert est.grad is not None and est.grad.abs().sum() > 0
    best_np, perm_np, _ = pit(si_sdr, est.detach().numpy(), ref.numpy())
    assert np.array_equal(perm_np, perm.numpy()) and np.allclose(best_np, best.detach().numpy(), atol=1e-3)


def test_pit_shape_error():
    with pytest.raises(ValueError, match="batch, sources, time"):
        pit(si_sdr, torch.zeros(2, 3), torch.zeros(2, 3))


def test_pesq_and_estoi_rank_real_noisy_speech(data_dir):
    speech, rate = load_audio(data_dir / "speech_lj.flac")
    noise, _ = load_audio(data_dir / "noise_rain.flac")
    scale = np.sqrt((speech**2).mean() / (noise**2).mean())
    light = speech + scale * noise * 10 ** (-20 / 20)
    heavy = speech + scale * noise * 10 ** (0 / 20)
    assert pesq(speech, speech, rate) > 4.4
    assert pesq(speech, light, rate) > pesq(speech, heavy, rate) + 0.5
    assert estoi(speech, speech, rate) > 0.99
    assert estoi(speech, light, rate) > estoi(speech, heavy, rate) + 0.1
    # other rates are resampled for PESQ
    assert abs(pesq(speech, light, rate) - pesq(np.repeat(speech, 2), np.repeat(light, 2), 32000)) < 0.3
