"""Backbones (imports as ``tfsignal.models``): one readable file per model plus the registry."""

from .base import Model
from .registry import available, create, grow, load, model_class, name_of, pretrained, register, save

__all__ = ["Model", "available", "create", "grow", "load", "model_class", "name_of", "pretrained", "register", "save"]

# Model files register their named configurations on import.
from . import (
    mambattention,  # noqa: E402, F401
    mambattention_stream,  # noqa: E402, F401
    meggpt,  # noqa: E402, F401
    mptsnet,  # noqa: E402, F401
    sample_tokenizer,  # noqa: E402, F401
    tfm_tokenizer,  # noqa: E402, F401
    tiger,  # noqa: E402, F401
    tspulse,  # noqa: E402, F401
)
