"""Training: the step-based trainer (DDP through torchrun), losses and datasets."""

from .losses import LossWeights, enhancement_loss, pit_si_snr_loss
from .trainer import TrainConfig, Trainer

__all__ = ["Trainer", "TrainConfig", "LossWeights", "enhancement_loss", "pit_si_snr_loss"]
