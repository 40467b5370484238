"""Compute kernels (imports as ``tfsignal.kernels``): each beside its PyTorch reference and a dispatcher.

Triton kernels will take CUDA tensors once they ship; today every backend runs in PyTorch.
"""

from .attention import attention, attention_ref
from .scan import (
    exporting,
    scan_dual,
    scan_matrix,
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
    "scan_dual",
    "exporting",
]
