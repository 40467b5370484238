"""Every recipe has the shape recipes/<task>/<dataset>/<module>.py with a README.md beside it, imports only
tfsignal (never another recipe), and answers ``python -m recipes.<task>.<dataset>.<module> --help``."""

import re
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p for p in (ROOT / "recipes").rglob("*.py") if p.name != "__init__.py")
NAMES = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in MODULES]


def test_recipes_are_task_dataset_module_with_a_readme():
    assert MODULES, "no recipe modules found"
    for path in MODULES:
        parts = path.relative_to(ROOT / "recipes").parts
        assert len(parts) == 3, f"{path}: expected recipes/<task>/<dataset>/<module>.py"
        assert (path.parent / "README.md").is_file(), f"{path.parent}: no README.md"


@pytest.mark.parametrize("path", MODULES, ids=NAMES)
def test_recipes_import_no_other_recipe(path):
    source = path.read_text()
    assert not re.search(r"^\s*(from|import)\s+recipes\b", source, re.MULTILINE), f"{path} imports from recipes"
    assert not re.search(r"^\s*from\s+\.", source, re.MULTILINE), f"{path} has a relative import"


@pytest.mark.parametrize("name", NAMES)
def test_help_runs(name, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module(name, run_name="__main__", alter_sys=False)
    assert exit_info.value.code in (0, None)
    assert "usage:" in capsys.readouterr().out
