"""The contract every network of the registry keeps.

A model is an ``nn.Module`` built from one dataclass, ``cls.Config``, that holds everything needed
to rebuild it: saving is that config plus the state dict, through ``tfsignal.weights``. Audio models
also carry ``sample_rate`` (the rate they run at) and separators ``n_sources``; both come from the
config. ``example_inputs()`` gives tensors a forward pass accepts, for export and tests::

    class Net(Model):
        @dataclass
        class Config:
            width: int = 8

        def __init__(self, config: Config) -> None:
            super().__init__(config)
            self.proj = nn.Linear(config.width, config.width)

        def example_inputs(self):
            return (torch.randn(2, self.config.width),)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor, nn


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
