"""Griffe extension for the API reference: loads the top-level ``models/`` and ``kernels/`` folders as
``tfsignal.models`` and ``tfsignal.kernels``, as ``[tool.setuptools.package-dir]`` in pyproject.toml
maps them for Python, so that ``::: tfsignal.models`` finds them in a plain checkout."""

from __future__ import annotations

import re
from pathlib import Path

import griffe

ROOT = Path(__file__).resolve().parents[1]


def package_dirs(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, Path]:
    """``{"tfsignal.models": ROOT/"models", ...}`` from pyproject.toml's ``[tool.setuptools.package-dir]``."""
    try:
        import tomllib

        mapping = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-dir"]
    except ImportError:  # Python 3.10: read the table's "name" = "folder" lines
        table = pyproject.read_text().split("[tool.setuptools.package-dir]", 1)[1].split("\n[", 1)[0]
        mapping = dict(re.findall(r'^"([^"]+)"\s*=\s*"([^"]+)"', table, re.MULTILINE))
    return {name: ROOT / folder for name, folder in mapping.items()}


class PackageDir(griffe.Extension):
    """Attach each mapped folder to its parent package once that package is loaded."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs) -> None:
        self.attach(pkg, loader)

    def on_package_loaded(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs) -> None:
        self.attach(pkg, loader)  # the same event under its name in griffe 1.x

    def attach(self, pkg: griffe.Module, loader: griffe.GriffeLoader) -> None:
        for name, folder in package_dirs().items():
            parent, _, child = name.rpartition(".")
            if parent != pkg.path or child in pkg.members:
                continue
            module = loader._load_module(child, folder / "__init__.py", submodules=True, parent=pkg)
            pkg.set_member(child, module)
