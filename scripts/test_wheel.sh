#!/usr/bin/env bash
# Install tfsignal the way a user does (a wheel into a fresh virtual environment, outside the
# checkout) and there load every shipped artefact, tokenise an array and enhance examples/noisy.wav.
# CI runs it after the tests (.ci/run). Usage: bash scripts/test_wheel.sh [WORK_FOLDER]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
python -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$repo"
wheel="$(ls "$work"/dist/tfsignal-*.whl)"
python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet -c "$repo/constraints/cpu.txt" "${wheel}[eeg]"
cp "$repo/examples/noisy.wav" "$work/noisy.wav"
expected="$(cd "$repo/models/pretrained" && ls *.json | sed 's/\.json$//' | tr '\n' ' ')"
cd "$work"  # nothing of the checkout on the path from here on
"$work/venv/bin/python" "$repo/scripts/wheel_smoke.py" "$work" $expected
"$work/venv/bin/enhance" noisy.wav -o clean.wav
"$work/venv/bin/python" - <<'PY'
import soundfile as sf

noisy, clean = sf.info("noisy.wav"), sf.info("clean.wav")
assert (clean.frames, clean.samplerate, clean.channels) == (noisy.frames, noisy.samplerate, noisy.channels)
print(f"enhance: clean.wav written ({clean.frames / clean.samplerate:.1f} s)")
PY
echo "wheel install: OK ($wheel)"
