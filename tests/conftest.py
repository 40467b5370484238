from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


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
