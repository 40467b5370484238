"""Time-series recipes: UEA/UCR classification and TSPulse pre-training."""
