"""Training recipes: one folder per dataset (prepare -> train -> evaluate). Run as `python -m recipes.NAME`."""
