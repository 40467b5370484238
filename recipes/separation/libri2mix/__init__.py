"""Libri2Mix (Cosentino et al., 2020): train and evaluate a separator on a local copy."""
