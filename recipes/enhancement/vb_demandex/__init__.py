"""VB-DemandEx (Kühne et al. 2025): MambAttention's training set, read from a local copy."""
