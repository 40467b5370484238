import os
from pathlib import Path

import pytest

# Triton builds its own jit helpers (tl.cdiv, tl.sigmoid, ...) when it is imported, for the GPU or,
# with TRITON_INTERPRET=1, for its CPU interpreter; tests/test_triton_kernels.py runs our kernels in
# the interpreter, which fails on GPU-built helpers. So triton (when installed) is imported here,
# before any test module, with the variable set, and the variable is put back for the other tests.
# A test that launched Triton kernels on a GPU would need triton imported without it instead.
_interpret = os.environ.get("TRITON_INTERPRET")
os.environ["TRITON_INTERPRET"] = "1"
try:
    import triton  # noqa: F401
except ImportError:
    pass
finally:
    if _interpret is None:
        del os.environ["TRITON_INTERPRET"]
    else:
        os.environ["TRITON_INTERPRET"] = _interpret

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA
