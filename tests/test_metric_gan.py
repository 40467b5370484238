"""Metric discriminator (MetricGAN, as MP-SENet / MambAttention train with it): the network, that it
learns to rank real speech by PESQ, its place in the enhancement loss, and its checkpointing."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.stats import spearmanr
from torch.utils.data import TensorDataset

from tfsignal import models
from tfsignal.train import LossWeights, TrainConfig, Trainer, enhancement_loss
from tfsignal.train.metric_gan import MetricDiscriminator, MetricGAN, normalised_pesq


def test_discriminator_layers_and_output_range():
    d = MetricDiscriminator()
    # convs 2*16*16 + 16*32*16 + 32*64*16 + 64*128*16 (no bias) = 172,544; instance norms 480; PReLUs
    # 240 + 64; linears 128*64 + 64 and 64 + 1; the sigmoid's slope 1.
    assert sum(p.numel() for p in d.parameters()) == 181_650
    mags = torch.rand(3, 201, 63)
    score = d(mags, mags.flip(0))
    assert score.shape == (3,)
    assert ((score > 0) & (score < 2)).all()


def _crops(data_dir, snrs_db, seed):
    """1 s crops of real speech with white noise at each SNR: (clean, degraded) stacks of (n, 16000)."""
    speech, rate = sf.read(data_dir / "speech_libri.flac", dtype="float32")
    rng = np.random.default_rng(seed)
    clean, noisy = [], []
    for snr in snrs_db:
        start = rng.integers(len(speech) - rate)
        x = speech[start : start + rate]
        noise = rng.standard_normal(rate).astype(np.float32)
        noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr / 10))
        clean.append(x)
        noisy.append(x + noise)
    return torch.from_numpy(np.stack(clean)), torch.from_numpy(np.stack(noisy))


def test_discriminator_learns_to_rank_real_speech_by_pesq(data_dir):
    torch.manual_seed(0)
    analyse = models.create("mambattention-tiny").analyse  # wave -> compressed magnitude, as in training
    gan = MetricGAN(16000, lr=2e-3)
    rng = np.random.default_rng(0)
    for step in range(60):
        clean, noisy = _crops(data_dir, rng.uniform(-5, 30, size=6), seed=step)
        gan.update(analyse(clean)[0], analyse(noisy)[0], clean, noisy)
    clean, noisy = _crops(data_dir, np.linspace(-5, 30, 12), seed=1000)  # crops it never trained on
    truth = normalised_pesq(clean, noisy, 16000)
    gan.discriminator.eval()
    with torch.no_grad():
        predicted = gan.discriminator(analyse(clean)[0], analyse(noisy)[0])
    assert torch.isfinite(truth).all()
    assert spearmanr(predicted.numpy(), truth.numpy()).statistic > 0.8
    assert (predicted - truth).abs().mean() < 0.2  # on PESQ's scale, 0.7 points


def test_normalised_pesq_is_nan_where_pesq_cannot_be_computed():
    silent = torch.zeros(2, 16000)
    assert torch.isnan(normalised_pesq(silent, silent, 16000)).all()


def test_enhancement_loss_adds_the_weighted_metric_term_and_steps_the_discriminator(data_dir):
    torch.manual_seed(0)
    model = models.create("mambattention-tiny", channels=8, n_blocks=1)
    clean, noisy = _crops(data_dir, [0.0, 10.0], seed=0)
    gan = MetricGAN(16000)
    before = [p.detach().clone() for p in gan.discriminator.parameters()]
    terms = enhancement_loss(model, noisy, clean, metric_gan=gan)
    assert {"metric", "discriminator", "pesq"} <= set(terms)
    weights = LossWeights()
    names = ("metric", "magnitude", "phase", "complex", "time", "consistency")
    assert torch.allclose(terms["total"], sum(getattr(weights, n) * terms[n] for n in names))
    assert 1.0 <= float(terms["pesq"]) <= 4.5
    assert any(not torch.equal(a, b) for a, b in zip(before, gan.discriminator.parameters()))
    # The metric term reaches the enhancer: its gradient alone is non-zero on the mask decoder.
    model.zero_grad()
    terms["metric"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    plain = enhancement_loss(model, noisy, clean)
    assert "metric" not in plain and "discriminator" not in plain


def test_trainer_checkpoints_and_restores_the_discriminator(tmp_path):
    torch.manual_seed(0)
    clean = torch.randn(4, 1600) * 0.1
    dataset = TensorDataset(clean + 0.05 * torch.randn(4, 1600), clean)

    def trainer(steps):
        model = models.create("mambattention-tiny", channels=8, n_blocks=1)
        gan = MetricGAN(16000)
        config = TrainConfig(out_dir=str(tmp_path), steps=steps, batch_size=2, val_every=2, save_every=2, log_every=1)
        loss = lambda net, batch: enhancement_loss(net, batch[0], batch[1], metric_gan=gan)  # noqa: E731
        return Trainer(model, loss, dataset, config, stateful={"metric_gan": gan}), gan

    first, gan = trainer(2)
    first.fit()
    trained = {k: v.clone() for k, v in gan.discriminator.state_dict().items()}
    assert any(not torch.equal(v, MetricGAN(16000).discriminator.state_dict()[k]) for k, v in trained.items())
    second, fresh = trainer(3)
    assert second.resume()
    for name, value in fresh.discriminator.state_dict().items():
        assert torch.equal(value, trained[name]), name
    assert fresh.optimizer.state_dict()["state"], "the discriminator's optimiser state was not restored"
    # 0.1 s toy clips are too short for PESQ: those steps log no "pesq" rather than NaN.
    second.fit()
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    trains = [e["train"] for e in logged if "train" in e]
    assert all("pesq" not in t and np.isfinite(t["discriminator"]) for t in trains)


@pytest.mark.parametrize("flag", [False, True])
def test_recipes_parse_the_metric_gan_flag(flag):
    from recipes.enhancement.starter.train import parse_args

    argv = ["--corpus", "c", "--data", "d"] + (["--metric-gan"] if flag else [])
    assert parse_args(argv).metric_gan is flag
