"""Compute kernels (imports as ``tfsignal.kernels``): each beside its PyTorch reference and a dispatcher.

``attention`` and ``selective_scan`` (and ``selective_scan_step``) take ``backend="triton"`` for our
Triton kernels (``attention_triton.py``, ``scan_triton.py``, forward and backward), which run on
CUDA tensors, or on the CPU in Triton's interpreter when ``TRITON_INTERPRET=1`` is set before the
first call (how the tests check them). They are imported on that first call, so this package
imports without triton installed. ``backend="auto"`` picks Triton only for the shapes in each
module's ``TRITON_FASTER`` table, measured by ``benchmarks/kernels.py`` on a GPU; until then
it is empty and ``"auto"`` means SDPA for attention and the PyTorch scan.
"""

from .attention import attention, attention_ref
from .scan import (
    exporting,
    scan_dual,
    scan_matrix,
    scan_pairs,
    selective_scan,
    selective_scan_chunked,
    selective_scan_continue,
    selective_scan_quadratic,
    selective_scan_ref,
    selective_scan_step,
)

__all__ = [
    "attention",
    "attention_ref",
    "selective_scan",
    "selective_scan_ref",
    "selective_scan_chunked",
    "selective_scan_step",
    "selective_scan_continue",
    "selective_scan_quadratic",
    "scan_matrix",
    "scan_pairs",
    "scan_dual",
    "exporting",
]
