"""Named configurations: a name maps to (model class, config overrides). Nothing else lives here.

Weights are data: a saved model is ``NAME.safetensors`` plus ``NAME.json`` (``{"model": name,
"config": {...}}``) in ``models/pretrained/`` or in a user's folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from torch import nn

from tfsignal.io import write_atomically

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"

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
    """Names of the shipped model weights ``load`` finds in ``models/pretrained/`` (tokenizers, which
    ship there too, are loaded by ``tfsignal.tokenizers`` instead)."""
    configs = (p.with_suffix(".json") for p in PRETRAINED_DIR.glob("*.safetensors"))
    return sorted(c.stem for c in configs if c.exists() and "model" in json.loads(c.read_text()))


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


def _resolve(name_or_path: str | os.PathLike) -> tuple[Path, Path]:
    path = Path(name_or_path)
    if path.is_dir():
        configs = sorted(p for p in path.glob("*.json") if not p.name.endswith(".onnx.json"))  # not export specs
        if len(configs) != 1:
            raise FileNotFoundError(f"{path}: expected one .json config beside its .safetensors")
        path = configs[0].with_suffix("")
    elif path.suffix in (".json", ".safetensors"):
        path = path.with_suffix("")
    elif not path.parent.name and (PRETRAINED_DIR / f"{name_or_path}.json").exists():
        path = PRETRAINED_DIR / str(name_or_path)
    config, weights = path.with_suffix(".json"), path.with_suffix(".safetensors")
    if not config.exists() or not weights.exists():
        shipped = ", ".join(pretrained()) or "none yet"
        raise FileNotFoundError(
            f"{name_or_path}: no such model (shipped: {shipped}; or a folder/path with .json + .safetensors)"
        )
    return config, weights


def load(name_or_path: str | os.PathLike, device: str = "cpu") -> nn.Module:
    """Load shipped weights by name (``models/pretrained/NAME.*``) or from a folder or file path."""
    from safetensors.torch import load_file

    config_path, weights_path = _resolve(name_or_path)
    meta = json.loads(config_path.read_text())
    model = create(meta["model"], **meta.get("config", {}))
    model.load_state_dict(load_file(str(weights_path), device=device))
    model.meta = meta
    return model.to(device).eval()


def save(model: nn.Module, path: str | os.PathLike, **meta) -> Path:
    """Write ``path.safetensors`` and ``path.json`` (the model's registry name, config, ``meta``)."""
    from safetensors.torch import save_file

    path = Path(path).with_suffix("")
    config = dataclasses.asdict(model.config)
    payload = {"model": model.registry_name, "config": config, **meta}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    # Each file is written beside its target and renamed into place once complete, with the user's
    # normal permissions (safetensors and mkstemp create owner-only files).
    write_atomically(path.with_suffix(".safetensors"), lambda tmp: save_file(state, tmp))
    write_atomically(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(payload, indent=2) + "\n"))
    return path
