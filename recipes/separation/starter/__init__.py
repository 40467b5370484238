"""Separation starter: speaker split and fixed mixtures of the offline corpus, training, evaluation."""
