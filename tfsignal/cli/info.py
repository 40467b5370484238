"""``tfsignal info``: versions, models, and whether a GPU and Triton are usable."""

from __future__ import annotations

import importlib.metadata as metadata
import platform

OPTIONAL = [
    "numpy",
    "scipy",
    "soundfile",
    "safetensors",
    "librosa",
    "pesq",
    "pystoi",
    "mne",
    "aeon",
    "scikit-learn",
    "onnx",
    "onnxscript",
    "onnxruntime",
]


def add_parser(sub, name: str) -> None:
    parser = sub.add_parser(
        name,
        help="versions, available models, GPU/Triton status",
        description="Print versions, available models and accelerator status.",
        epilog="example: tfsignal info",
    )
    parser.set_defaults(func=run)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def gpu_status() -> tuple[str, str]:
    """(GPU description, Triton description)."""
    import torch

    if torch.cuda.is_available():
        gpu = f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    else:
        gpu = "none (CPU only)"
    try:
        import triton  # noqa: F401

        usable = torch.cuda.is_available()
        state = "usable with backend='triton'" if usable else "installed but no GPU: PyTorch paths used"
        trit = f"{triton.__version__}, {state}"
    except ImportError:
        trit = "not installed (PyTorch paths used)"
    return gpu, trit


def run(args) -> int:
    import torch

    import tfsignal
    from tfsignal import models, weights

    gpu, trit = gpu_status()
    print(f"tfsignal     {tfsignal.__version__}")
    print(f"python       {platform.python_version()} ({platform.machine()}, {platform.system()})")
    print(f"torch        {torch.__version__} ({torch.get_num_threads()} threads)")
    for package in OPTIONAL:
        print(f"{package:<12} {_version(package)}")
    print(f"gpu          {gpu}")
    print(f"triton       {trit}")
    print(f"models       {', '.join(models.available()) or 'none'}")
    print(f"pretrained   {', '.join(models.pretrained()) or 'none'}")
    print(f"tokenizers   {', '.join(weights.shipped('tokenizer')) or 'none'}")
    return 0
