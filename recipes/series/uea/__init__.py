"""UEA/UCR classification with MPTSNet or TSPulse, next to MiniRocket."""
