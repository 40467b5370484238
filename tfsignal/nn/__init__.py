"""Shared neural-network blocks used by the backbones: attention, Mamba, norms and vector quantisation."""

from .attention import MultiHeadAttention
from .mamba import BiMamba, Mamba, MambaBlock
from .norm import RMSNorm
from .vq import VectorQuantizer

__all__ = ["MultiHeadAttention", "Mamba", "MambaBlock", "BiMamba", "RMSNorm", "VectorQuantizer"]
