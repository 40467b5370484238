"""Compute kernels: Triton on CUDA, PyTorch reference and CPU paths elsewhere."""
