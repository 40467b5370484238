"""Shared neural-network blocks (attention, Mamba, norms) used by the models."""
