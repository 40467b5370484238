"""ONNX export through ``torch.onnx.export(dynamo=True)`` and a parity check with onnxruntime."""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from tfsignal.io import publish

__all__ = ["to_onnx", "check"]


def _example_inputs(model: nn.Module, inputs: Sequence[Tensor] | Tensor | None) -> tuple[Tensor, ...]:
    if inputs is None:
        if not hasattr(model, "example_inputs"):
            raise ValueError(f"{type(model).__name__} has no example_inputs(); pass inputs=")
        inputs = model.example_inputs()
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def to_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    inputs: Sequence[Tensor] | Tensor | None = None,
    dynamic_axes: dict[int, Sequence[int]] | None = None,
    opset: int = 18,
    overwrite: bool = False,
) -> Path:
    """Export ``model`` (in eval mode) to ``path`` with the dynamo exporter.

    ``inputs`` default to ``model.example_inputs()``. ``dynamic_axes`` maps an input index to
    ``{axis: name}`` for axes whose size may change at run time (e.g. ``{0: {0: "batch"}}``).
    The file is written to a temporary name and renamed when complete.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists (pass overwrite=True to replace it)")
    args = _example_inputs(model, inputs)
    dynamic_shapes = None
    if dynamic_axes:
        dynamic_shapes = tuple(
            {axis: torch.export.Dim.DYNAMIC for axis in dynamic_axes.get(i, ())} or None for i in range(len(args))
        )
    was_training = model.training
    model.eval()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".onnx", dir=path.parent or ".")
    os.close(fd)
    try:
        quiet = logging.getLogger("torch.onnx")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # the exporter logs one line per missing optional op set
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model,
                args,
                dynamic_shapes=dynamic_shapes,
                opset_version=opset,
                dynamo=True,
                verbose=False,
            )
            program.save(tmp)
        publish(tmp, path)
    finally:
        quiet.setLevel(level)
        model.train(was_training)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def check(
    path: str | os.PathLike,
    model: nn.Module,
    inputs: Sequence[Tensor] | Tensor | None = None,
) -> float:
    """Largest absolute difference between onnxruntime on ``path`` and ``model`` on ``inputs``."""
    import onnxruntime as ort

    args = _example_inputs(model, inputs)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: a.detach().cpu().numpy() for i, a in zip(session.get_inputs(), args)}
    got = session.run(None, feeds)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        want = model(*args)
    model.train(was_training)
    want = [want] if isinstance(want, Tensor) else list(want)
    if len(want) != len(got):
        raise ValueError(f"ONNX graph has {len(got)} outputs, the model {len(want)}")
    return max(float(np.abs(g - w.cpu().numpy()).max()) for g, w in zip(got, want))
