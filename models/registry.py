"""Named configurations: a name maps to (model class, config overrides). Nothing else lives here.

Weights are data: a saved model is ``NAME.safetensors`` plus ``NAME.json`` (``{"kind": "model",
"model": name, "config": {...}}``), shipped inside the package or in a user's folder; finding,
reading and writing them is ``tfsignal.weights``'s job.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from tfsignal import weights

from .base import Model

# name -> (class, config overrides); filled by each model file through `register`.
_REGISTRY: dict[str, tuple[type[Model], dict]] = {}


def register(name: str, cls: type[Model], **overrides) -> None:
    """Map ``name`` to ``cls`` (a :class:`Model`) built from ``cls.Config(**overrides)``."""
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise TypeError(f"{name}: {cls!r} is not a tfsignal.models.Model subclass")
    if name in _REGISTRY:
        raise ValueError(f"model name {name!r} is already registered")
    _REGISTRY[name] = (cls, overrides)


def available() -> list[str]:
    """Names ``create`` accepts, sorted."""
    return sorted(_REGISTRY)


def model_class(name: str) -> type[Model]:
    """The class a registered name builds."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(available()) or 'none yet'}")
    return _REGISTRY[name][0]


def pretrained() -> list[str]:
    """Names of the shipped models ``load`` accepts (``tfsignal.weights.shipped("model")``)."""
    return weights.shipped("model")


def create(name: str, **overrides) -> Model:
    """A freshly initialised model of the named configuration, with config fields overridden."""
    if name not in _REGISTRY:
        known = ", ".join(available()) or "none yet"
        raise KeyError(f"unknown model {name!r}; available: {known}")
    cls, defaults = _REGISTRY[name]
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = set(overrides) - fields
    if unknown:
        raise TypeError(f"{name}: unknown config field(s) {sorted(unknown)}; known: {sorted(fields)}")
    return cls(cls.Config(**{**defaults, **overrides}))


def name_of(model: Model) -> str:
    """The registered name of ``model``'s class whose overrides its config matches, the most
    specific one when several do (``mambattention-tiny`` rather than ``mambattention``)."""
    config = dataclasses.asdict(model.config)
    fits = [
        (len(overrides), name)
        for name, (cls, overrides) in _REGISTRY.items()
        if cls is type(model) and all(config.get(k, object()) == v for k, v in overrides.items())
    ]
    if not fits:
        raise KeyError(f"{type(model).__name__} is not registered under any name that fits its config")
    return max(fits)[1]


def load(name_or_path: str | os.PathLike, device: str = "cpu") -> Model:
    """Load shipped weights by name or saved ones from a folder or path (see ``tfsignal.weights``)."""
    meta, state = weights.read(name_or_path, kind=("model", "classifier"), device=device)
    model = create(meta["model"], **meta.get("config", {}))
    model.load_state_dict(state)
    return model.to(device).eval()


def grow(name_or_path: str | os.PathLike, **overrides) -> Model:
    """Saved weights in a model whose configuration is theirs with ``overrides`` applied, for
    training on from trained weights with parts added (``--set frame_dim=64`` with ``--init``): every
    saved tensor must fit a parameter or buffer of the same name and shape, and whatever the new
    configuration adds keeps its fresh initialisation. ValueError (one line) for a tensor that
    does not fit. Without overrides this is :func:`load`."""
    if not overrides:
        return load(name_or_path)
    meta, state = weights.read(name_or_path, kind=("model", "classifier"))
    model = create(meta["model"], **{**meta.get("config", {}), **overrides})
    own = model.state_dict()
    for key, tensor in state.items():
        if key not in own or own[key].shape != tensor.shape:
            found = tuple(own[key].shape) if key in own else "nothing"
            raise ValueError(
                f"{name_or_path}: with {overrides} the saved {key} {tuple(tensor.shape)} fits {found}; "
                "only fields that add parts can change"
            )
    model.load_state_dict(state, strict=False)
    return model.eval()


def save(model: Model, path: str | os.PathLike, overwrite: bool = True, kind: str = "model", **meta) -> Path:
    """Write ``path.safetensors`` and ``path.json`` (kind, registry name, config, ``meta``) through
    ``tfsignal.weights.write``; a classifier stores its network with ``kind="classifier"``."""
    payload = {"kind": kind, "model": name_of(model), "config": dataclasses.asdict(model.config), **meta}
    return weights.write(path, payload, model.state_dict(), overwrite=overwrite)
