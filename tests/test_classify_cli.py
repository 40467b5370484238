"""tfsignal classify: predictions from a saved classifier, and one-line errors with exit code 2."""

import numpy as np
import pytest

from tfsignal.classification import SeriesClassifier
from tfsignal.cli import main

SMALL = dict(embed_dim=16, window_dim=32, ff_dim=32, cnn_hidden=16, heads=2)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 1, 24)).astype(np.float32)
    X[6:] += np.sin(np.arange(24) / 2)  # two separable classes
    y = np.array(["quiet"] * 6 + ["wave"] * 6)
    folder = tmp_path_factory.mktemp("clf") / "model"
    SeriesClassifier("mptsnet", model_options=SMALL, epochs=2, progress=False).fit(X, y).save(folder)
    return folder, X


def test_prints_one_label_per_series(saved, tmp_path, capsys):
    folder, X = saved
    np.save(tmp_path / "x.npy", X[:, 0])  # (n, T): univariate
    assert main(["classify", str(folder), str(tmp_path / "x.npy")]) == 0
    labels = capsys.readouterr().out.split()
    assert len(labels) == 12 and set(labels) <= {"quiet", "wave"}


def test_writes_csv_and_refuses_to_replace_it(saved, tmp_path, capsys):
    folder, X = saved
    data = tmp_path / "x.npy"
    np.save(data, X)
    out = tmp_path / "pred.csv"
    assert main(["classify", str(folder), str(data), "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0] == "index,label" and len(out.read_text().splitlines()) == 13
    assert main(["classify", str(folder), str(data), "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["classify", str(folder), str(data), "-o", str(data), "--overwrite"]) == 2
    assert np.load(data).shape == X.shape  # the input is untouched


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "none.npy", "no such file"),
        (lambda d: (d / "bad.npy").write_text("junk") and d / "bad.npy", "not a readable"),
        (lambda d: np.save(d / "long.npy", np.zeros((2, 1, 99))) or d / "long.npy", "more than the 24"),
        (lambda d: np.save(d / "chan.npy", np.zeros((2, 3, 24))) or d / "chan.npy", "takes 1 channel"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(saved, tmp_path, capsys, make, message):
    folder, _ = saved
    assert main(["classify", str(folder), str(make(tmp_path))]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_missing_model_folder(tmp_path, capsys):
    assert main(["classify", str(tmp_path / "nope"), str(tmp_path / "x.npy")]) == 2
    assert "no such model folder" in capsys.readouterr().err
