"""Scripts run as `python benchmarks/x.py` put their folder first on sys.path, so a script named like a
standard-library module shadows it for every other script there (a benchmarks/tokenize.py once broke
torch's import of `tokenize` in all the benchmarks), and one named like an installed package shadows
that package (a benchmarks/onnx.py hid the onnx package from the exporter)."""

import importlib.metadata
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("folder", ["benchmarks", "examples", "scripts"])
def test_no_script_shadows_a_standard_library_module(folder):
    clashes = sorted(p.name for p in (ROOT / folder).glob("*.py") if p.stem in sys.stdlib_module_names)
    assert not clashes, f"{folder}/ scripts named like standard-library modules: {clashes}"


@pytest.mark.parametrize("folder", ["benchmarks", "examples", "scripts"])
def test_no_script_shadows_an_installed_package(folder):
    installed = {
        name for dist in importlib.metadata.distributions() for name in (dist.read_text("top_level.txt") or "").split()
    }
    installed |= {"onnx", "onnxruntime", "torch", "numpy", "scipy", "soundfile", "mne", "triton"}
    clashes = sorted(p.name for p in (ROOT / folder).glob("*.py") if p.stem in installed)
    assert not clashes, f"{folder}/ scripts named like installed packages: {clashes}"
