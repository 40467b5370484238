#!/usr/bin/env bash
# The test command of README.md and .ci/run: install tfsignal with its test extras, then run pytest.
# constraints/cpu.txt keeps torch on the CPU build (a plain `torch` requirement can pull a CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -c constraints/cpu.txt -e ".[dev]"
python -m pytest -q "$@"
