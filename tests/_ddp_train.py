"""Worker for tests/test_trainer.py: a few DDP steps of a tiny enhancer and its metric discriminator
on a toy dataset (run by torchrun)."""

import sys

import torch
import torch.distributed as dist
from torch.utils.data import TensorDataset

from tfsignal import models
from tfsignal.train import TrainConfig, Trainer, enhancement_loss
from tfsignal.train.metric_gan import MetricGAN

torch.manual_seed(0)
torch.set_num_threads(1)
clean = torch.randn(8, 1600) * 0.1
dataset = TensorDataset(clean + 0.05 * torch.randn(8, 1600), clean)
model = models.create("mambattention-tiny", channels=8, n_blocks=1)
gan = MetricGAN(16000)
trainer = Trainer(
    model,
    lambda net, batch: enhancement_loss(net, batch[0], batch[1], metric_gan=gan),
    dataset,
    TrainConfig(out_dir=sys.argv[1], steps=3, batch_size=2, val_every=100, save_every=100),
    stateful={"metric_gan": gan},
)
trainer.fit()
# Every rank writes a fingerprint of its weights (enhancer and discriminator): the replicas must stay identical.
fingerprint = torch.cat([p.detach().flatten() for p in [*model.parameters(), *gan.discriminator.parameters()]])
torch.save(fingerprint, f"{sys.argv[1]}/rank{dist.get_rank()}.pt")
