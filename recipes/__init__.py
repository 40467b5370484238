"""Recipes: one folder per task and dataset, ``recipes/<task>/<dataset>/``, each with its prepare / train /
evaluate modules (``python -m recipes.<task>.<dataset>.<module> --help``) and a README.md of commands and
results. Recipes import only ``tfsignal``, never each other."""
