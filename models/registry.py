"""Named configurations: a name maps to (model class, config overrides). Nothing else lives here.

Weights are data: a saved model is ``NAME.safetensors`` plus ``NAME.json`` (``{"kind": "model",
"model": name, "config": {...}}``), shipped inside the package or in a user's folder; finding,
reading and writing them is ``tfsignal.weights``'s job.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from torch import nn

from tfsignal import weights

# name -> (class, config overrides); filled by each model file through `register`.
_REGISTRY: dict[str, tuple[type[nn.Module], dict]] = {}


def register(name: str, cls: type[nn.Module], **overrides) -> None:
    """Map ``name`` to ``cls`` built from ``cls.Config(**overrides)``."""
    if name in _REGISTRY:
        raise ValueError(f"model name {name!r} is already registered")
    _REGISTRY[name] = (cls, overrides)


def available() -> list[str]:
    """Names ``create`` accepts, sorted."""
    return sorted(_REGISTRY)


def model_class(name: str) -> type[nn.Module]:
    """The class a registered name builds."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(available()) or 'none yet'}")
    return _REGISTRY[name][0]


def pretrained() -> list[str]:
    """Names of the shipped models ``load`` accepts (``tfsignal.weights.shipped("model")``)."""
    return weights.shipped("model")


def create(name: str, **overrides) -> nn.Module:
    """A freshly initialised model of the named configuration, with config fields overridden."""
    if name not in _REGISTRY:
        known = ", ".join(available()) or "none yet"
        raise KeyError(f"unknown model {name!r}; available: {known}")
    cls, defaults = _REGISTRY[name]
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = set(overrides) - fields
    if unknown:
        raise TypeError(f"{name}: unknown config field(s) {sorted(unknown)}; known: {sorted(fields)}")
    model = cls(cls.Config(**{**defaults, **overrides}))
    model.registry_name = name
    return model


def load(name_or_path: str | os.PathLike, device: str = "cpu") -> nn.Module:
    """Load shipped weights by name or saved ones from a folder or path (see ``tfsignal.weights``)."""
    meta, state = weights.read(name_or_path, kind=("model", "classifier"), device=device)
    model = create(meta["model"], **meta.get("config", {}))
    model.load_state_dict(state)
    model.meta = meta
    return model.to(device).eval()


def save(model: nn.Module, path: str | os.PathLike, overwrite: bool = True, kind: str = "model", **meta) -> Path:
    """Write ``path.safetensors`` and ``path.json`` (kind, registry name, config, ``meta``) through
    ``tfsignal.weights.write``; a classifier stores its network with ``kind="classifier"``."""
    payload = {"kind": kind, "model": model.registry_name, "config": dataclasses.asdict(model.config), **meta}
    return weights.write(path, payload, model.state_dict(), overwrite=overwrite)
