"""Shared neural-network blocks used by the backbones: attention, Mamba and norms."""

from .attention import MultiHeadAttention
from .mamba import BiMamba, Mamba, MambaBlock
from .norm import RMSNorm

__all__ = ["MultiHeadAttention", "Mamba", "MambaBlock", "BiMamba", "RMSNorm"]
