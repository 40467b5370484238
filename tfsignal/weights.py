"""Shipped and saved weights: the one place that finds, reads and writes them.

An artefact is ``NAME.json`` (its ``kind`` and whatever rebuilds the object) beside
``NAME.safetensors`` (tensors only). Three kinds exist:

- ``"model"``: a network of the registry (``{"kind": "model", "model": name, "config": {...}}``),
  rebuilt by ``tfsignal.models.load``;
- ``"tokenizer"``: a fitted ``TFMTokenizer`` or ``SampleTokenizer`` (``"tokenizer": "tfm"`` or
  ``"sample"``, its estimator ``params`` and network ``config``);
- ``"classifier"``: a fitted ``SeriesClassifier``, a folder holding ``classifier.*`` (its network,
  classes and channel statistics) and ``member1.*``, ... for an ensemble.

Shipped artefacts live inside the installed package (the ``pretrained`` folder of
``tfsignal.models``), found with ``importlib.resources`` so they load the same from a wheel as from
a checkout. A name without a folder means a shipped artefact; anything else is a path::

    from tfsignal import weights
    weights.shipped()                      # ['enhancer', 'enhancer-stream', 'sample', 'tfm', ...]
    model = weights.load("enhancer")       # whatever kind the JSON says
    weights.save(model, "runs/mine")       # runs/mine.json + runs/mine.safetensors
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import torch

from tfsignal.io import check_output_path, write_atomically

KINDS = ("model", "tokenizer", "classifier")


def shipped_dir() -> Path:
    """The folder of shipped artefacts inside the installed ``tfsignal.models`` package."""
    return Path(str(resources.files("tfsignal.models") / "pretrained"))


def kind_of(meta: dict) -> str:
    """The ``kind`` of an artefact's JSON; files written before the field existed are recognised by
    their keys (``tokenizer`` for tokenizers, ``classes`` for classifiers, else a model)."""
    if "kind" in meta:
        return meta["kind"]
    if "tokenizer" in meta:
        return "tokenizer"
    return "classifier" if "classes" in meta else "model"


def _read_json(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable weights config ({err.__class__.__name__})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: not a weights config (expected a JSON object)")
    return meta


def shipped(kind: str | None = None) -> list[str]:
    """Names of the shipped artefacts (of one kind, or all), sorted."""
    configs = (c for c in shipped_dir().glob("*.json") if c.with_suffix(".safetensors").exists())
    return sorted(c.stem for c in configs if kind in (None, kind_of(_read_json(c))))


def resolve(name_or_path: str | os.PathLike, kind: str | None = None) -> Path:
    """The ``.json`` config of a shipped name, a folder (its one config, or its classifier's) or a
    ``.json``/``.safetensors``/extension-less path; FileNotFoundError naming what exists if none."""
    path = Path(name_or_path)
    if path.is_dir():
        configs = sorted(p for p in path.glob("*.json") if not p.name.endswith(".onnx.json"))  # not export specs
        if len(configs) > 1:  # a classifier folder also holds its ensemble members
            configs = [p for p in configs if kind_of(_read_json(p)) == "classifier"]
        if len(configs) != 1:
            raise FileNotFoundError(f"{path}: expected one .json config beside its .safetensors")
        path = configs[0]
    elif not path.parent.name and (shipped_dir() / f"{path.name}.json").exists():
        path = shipped_dir() / f"{path.name}.json"
    path = path.with_suffix(".json") if path.suffix in (".json", ".safetensors", "") else path
    if not path.exists() or not path.with_suffix(".safetensors").exists():
        what = kind or "weights"
        names = ", ".join(shipped(kind)) or "none"
        raise FileNotFoundError(
            f"{name_or_path}: no such {what} (shipped: {names}; or a folder or path with NAME.json + NAME.safetensors)"
        )
    return path


def config(name_or_path: str | os.PathLike) -> dict:
    """The JSON of an artefact (with its ``kind``), without loading its tensors."""
    meta = _read_json(resolve(name_or_path))
    return {"kind": kind_of(meta), **meta}


def read(name_or_path: str | os.PathLike, kind: str | tuple[str, ...] | None = None, device: str = "cpu"):
    """``(meta, tensors)`` of an artefact; ValueError if its kind is not ``kind`` (one or several)."""
    from safetensors.torch import load_file

    wanted = (kind,) if isinstance(kind, str) else kind
    config = resolve(name_or_path, wanted[0] if wanted else None)
    meta = _read_json(config)
    found = kind_of(meta)
    if wanted and found not in wanted:
        raise ValueError(f"{config}: holds a {found}, not a {' or '.join(wanted)}")
    meta = {"kind": found, **meta}
    tensors = load_file(str(config.with_suffix(".safetensors")), device=device)
    return meta, tensors


def write(path: str | os.PathLike, meta: dict, tensors: dict[str, torch.Tensor], overwrite: bool = True) -> Path:
    """Write ``path.safetensors`` then ``path.json`` (each atomically); ``meta`` must name its kind.

    With ``overwrite=False`` an existing file is refused before anything is written.
    """
    from safetensors.torch import save_file

    if meta.get("kind") not in KINDS:
        raise ValueError(f"meta['kind'] must be one of {KINDS}, got {meta.get('kind')!r}")
    path = Path(path)
    path = path.with_suffix("") if path.suffix in (".json", ".safetensors") else path
    targets = [Path(f"{path}.safetensors"), Path(f"{path}.json")]
    if not overwrite:
        for target in targets:
            check_output_path(target)
    text = json.dumps(meta, indent=2) + "\n"  # fails before anything is written if meta is not JSON
    state = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    write_atomically(targets[0], lambda tmp: save_file(state, tmp))
    write_atomically(targets[1], lambda tmp: Path(tmp).write_text(text))
    return path


def load(name_or_path: str | os.PathLike, kind: str | None = None, device: str = "cpu"):
    """The object an artefact holds (a model, tokenizer or classifier), rebuilt by its kind's loader."""
    config = resolve(name_or_path, kind)
    found = kind_of(_read_json(config))
    if kind is not None and found != kind:
        raise ValueError(f"{name_or_path}: holds a {found}, not a {kind}")
    if found == "model":
        from tfsignal.models import load as load_model

        return load_model(name_or_path, device=device)
    if found == "tokenizer":
        from tfsignal.tokenizers import load_tokenizer

        return load_tokenizer(name_or_path, device=device)
    if found == "classifier":
        from tfsignal.classification import SeriesClassifier

        return SeriesClassifier.load(config.parent)
    raise ValueError(f"{name_or_path}: unknown kind {found!r} (known: {', '.join(KINDS)})")


def save(obj, path: str | os.PathLike, overwrite: bool = False, **meta) -> Path:
    """Save a model, tokenizer or classifier through its own ``save`` (which writes through ``write``)."""
    from torch import nn

    if isinstance(obj, nn.Module):
        from tfsignal.models import save as save_model

        return save_model(obj, path, overwrite=overwrite, **meta)
    if hasattr(obj, "save"):
        if meta:
            raise TypeError(f"extra metadata is only stored for models, not a {type(obj).__name__}")
        return obj.save(path, overwrite=overwrite)
    raise TypeError(f"cannot save a {type(obj).__name__}: not a model, tokenizer or classifier")
