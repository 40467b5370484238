"""Training: the one training loop (budget in steps or minutes, DDP through torchrun), its learning-rate
schedules and the speech losses; datasets are in :mod:`tfsignal.data`."""

from .losses import LossWeights, enhancement_loss, pit_si_snr_loss, pit_snr_loss
from .trainer import TrainConfig, Trainer

__all__ = ["Trainer", "TrainConfig", "LossWeights", "enhancement_loss", "pit_si_snr_loss", "pit_snr_loss"]
