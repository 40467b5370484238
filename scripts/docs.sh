#!/usr/bin/env bash
# Build the documentation site from docs/ (mkdocs.yml) with every warning an error; installs nothing
# (pip install -e ".[docs]" first). The site goes to site/ (ignored by git), or to the folder given.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_MKDOCS_2_WARNING=1  # the theme's end-of-life banner, not a build warning
python -m mkdocs build --strict --site-dir "${1:-site}"
