"""Scripts run as `python benchmarks/x.py` put their folder first on sys.path, so a script named like a
standard-library module shadows it for every other script there (a benchmarks/tokenize.py once broke
torch's import of `tokenize` in all the benchmarks)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("folder", ["benchmarks", "examples", "scripts"])
def test_no_script_shadows_a_standard_library_module(folder):
    clashes = sorted(p.name for p in (ROOT / folder).glob("*.py") if p.stem in sys.stdlib_module_names)
    assert not clashes, f"{folder}/ scripts named like standard-library modules: {clashes}"
