"""Starter recipe: prepare the offline speech corpus, train the shipped enhancer."""
