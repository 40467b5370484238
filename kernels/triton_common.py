"""What the dispatchers and the Triton kernels share: the lazy import and the device check.

``triton.jit`` decides when a kernel is decorated, that is when its module is imported, whether it
compiles for the GPU or runs in Triton's CPU interpreter (``TRITON_INTERPRET=1``). The dispatchers
import the kernel modules on the first ``backend="triton"`` call, so without triton installed
``tfsignal.kernels`` still imports, and the variable only has to be set before that first call.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from torch import Tensor


def load(module: str) -> ModuleType:
    """Import ``tfsignal.kernels.<module>``; a clear error when triton is not installed."""
    try:
        return importlib.import_module(f".{module}", __package__)
    except ModuleNotFoundError as error:
        if error.name != "triton":
            raise
        raise RuntimeError("backend='triton' needs the triton package (Linux): pip install 'tfsignal[gpu]'") from error


def interpreted(kernel) -> bool:
    """True when ``kernel`` was built for Triton's CPU interpreter."""
    from triton.runtime.interpreter import InterpretedFunction

    return isinstance(kernel, InterpretedFunction)


def check_device(tensor: Tensor, interpreter: bool) -> None:
    """Raise unless the kernels can take ``tensor``: a CUDA tensor, or any tensor under the interpreter."""
    if tensor.is_cuda or interpreter:
        return
    raise RuntimeError(
        f"Triton kernels run on CUDA tensors, got a {tensor.device.type} tensor; to run them on the CPU "
        "(slowly, for testing) set TRITON_INTERPRET=1 before the first backend='triton' call"
    )
