"""The contract every network of the registry keeps.

A model is an ``nn.Module`` built from one dataclass, ``cls.Config``, that holds everything needed
to rebuild it: saving is that config plus the state dict, through ``tfsignal.weights``. Audio models
also carry ``sample_rate`` (the rate they run at) and separators ``n_sources``; both come from the
config. ``example_inputs()`` gives tensors a forward pass accepts, for export and tests, and
``onnx_io()`` says how the exported graph is called (``tfsignal.export``)::

    class Net(Model):
        @dataclass
        class Config:
            width: int = 8

        def __init__(self, config: Config) -> None:
            super().__init__(config)
            self.proj = nn.Linear(config.width, config.width)

        def example_inputs(self, batch=2):
            return (torch.randn(batch, self.config.width),)

        def onnx_io(self):
            return {"inputs": [port("x", "features (batch, width)", batch=0)],
                    "outputs": [port("y", "features (batch, width)", batch=0)], "resize": {"batch": 3}}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor, nn


def port(name: str, meaning: str, **axes: int) -> dict:
    """One input or output of an exported graph: its name, what it holds, and the axes whose size may
    change at run time, by symbolic name (``port("mix", "mixture (batch, samples)", batch=0, samples=1)``)."""
    return {"name": name, "meaning": meaning, "axes": {axis: symbol for symbol, axis in axes.items()}}


class Model(nn.Module):
    """Base class of registered networks: ``config``, ``name``, ``example_inputs``, ``save``/``load``."""

    Config: ClassVar[type]

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    @property
    def name(self) -> str:
        """The registered name whose configuration this model is (the most specific one that fits)."""
        from .registry import name_of

        return name_of(self)

    def example_inputs(self) -> tuple[Tensor, ...]:
        """Inputs of one forward pass (small, random, on the CPU)."""
        raise NotImplementedError(f"{type(self).__name__} does not define example_inputs()")

    def onnx_io(self) -> dict:
        """How the exported graph is called, for ``tfsignal.export`` and the sidecar JSON it writes:

        - ``inputs``, ``outputs``: :func:`port` dicts in the order of the exported method's arguments
          and results;
        - ``method``: the method exported (default ``"forward"``);
        - ``resize``: keyword arguments of :meth:`example_inputs` that change every dynamic axis, so
          that the graph is checked at a second size (absent: the graph has fixed shapes);
        - ``preprocess``, ``postprocess``: what runs around the graph, in words a device integrator
          can follow; any other key (``sample_rate``, ``hop_length``, ...) goes into the sidecar as is.
        """
        raise NotImplementedError(f"{type(self).__name__} does not define onnx_io()")

    def save(self, path: str | os.PathLike, overwrite: bool = False, **meta) -> Path:
        """``path.json`` (kind, name, config, ``meta``) + ``path.safetensors``; see ``tfsignal.weights``."""
        from .registry import save

        return save(self, path, overwrite=overwrite, **meta)

    @classmethod
    def load(cls, name_or_path: str | os.PathLike, device: str = "cpu") -> Model:
        """A shipped model by name or a saved one by path, checked to be of this class."""
        from .registry import load

        model = load(name_or_path, device=device)
        if not isinstance(model, cls):
            raise ValueError(f"{name_or_path}: holds a {type(model).__name__}, not a {cls.__name__}")
        return model
