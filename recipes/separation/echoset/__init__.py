"""EchoSet (Xu et al., ICLR 2025): train and evaluate a separator on a local copy."""
