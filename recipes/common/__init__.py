"""Pieces shared by the recipes: evaluation of enhancers and baselines."""
