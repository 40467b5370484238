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


@pytest.fixture(scope="session")
def small_tiger(tmp_path_factory):
    """(model, folder it is saved in, its exported ONNX graph): a TIGER small enough to export in
    about half a minute (8 kHz, three bands, two scales, one pass), made once for every test that
    needs a separator graph, since each TIGER export costs 40 s to over 2 minutes on 2 cores."""
    import torch

    from tfsignal import models
    from tfsignal.export import to_onnx

    folder = tmp_path_factory.mktemp("tiger")
    torch.manual_seed(0)
    options = dict(channels=8, msa_channels=16, msa_scales=2, n_repeats=1, heads=2, qk_channels=2)
    model = models.create("tiger-tiny", sample_rate=8000, bands_hz=((4000, 2000),), **options).eval()
    (folder / "saved").mkdir()
    models.save(model, folder / "saved" / "tiger")
    return model, folder / "saved", to_onnx(model, folder / "tiger.onnx")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    """What each command runs, as small as it comes: a saved untrained enhancer, separator and
    classifier (a few seconds to make), and the shipped tokenizer."""
    import numpy as np
    import torch

    from tfsignal import models
    from tfsignal.classification import SeriesClassifier

    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    models.save(models.create("mambattention-tiny"), folder / "enhancer")
    separator = models.create("tiger-tiny", channels=8, msa_channels=16, msa_scales=2, n_repeats=1, heads=2)
    models.save(separator, folder / "separator")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 2, 4)).astype(np.float32), np.array(["a", "b"] * 3)
    small = dict(embed_dim=16, window_dim=32, ff_dim=32, cnn_hidden=16, heads=2)
    SeriesClassifier("mptsnet", model_options=small, epochs=1, progress=False).fit(X, y).save(folder / "classifier")
    return {
        "enhance": str(folder / "enhancer.json"),
        "separate": str(folder / "separator.json"),
        "tokenize": "tfm",
        "classify": str(folder / "classifier"),
    }
