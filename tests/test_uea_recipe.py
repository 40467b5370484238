"""recipes.series.uea.train on a tiny local .ts dataset: the JSON summary, the saved model, and clear refusals."""

import json

import numpy as np
import pytest

from recipes.series.uea import train as uea
from tfsignal.classification import SeriesClassifier


def write_ts(path, series, labels):
    header = (
        "@problemName toy\n@timeStamps false\n@missing false\n@univariate true\n@dimensions 1\n"
        "@equalLength true\n@seriesLength 32\n@classLabel true up down\n@data\n"
    )
    rows = [",".join(f"{v:.4f}" for v in x) + f":{label}" for x, label in zip(series, labels)]
    path.write_text(header + "\n".join(rows) + "\n")


@pytest.fixture
def toy(tmp_path):
    """Rising vs falling ramps plus noise: 16 train and 12 test series of 32 steps."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "Toy"
    folder.mkdir()
    for split, n in (("TRAIN", 16), ("TEST", 12)):
        labels = np.array(["up", "down"] * (n // 2))
        ramps = np.linspace(-1, 1, 32)[None] * np.where(labels == "up", 1.0, -1.0)[:, None]
        write_ts(folder / f"Toy_{split}.ts", ramps + 0.2 * rng.standard_normal((n, 32)), labels)
    return tmp_path


def test_prints_one_json_line_and_saves_a_usable_model(toy, capsys):
    args = ["--dataset", "Toy", "--data-dir", str(toy), "--epochs", "3", "--val-folds", "2", "--threads", "1"]
    assert uea.main([*args, "--out", str(toy / "model")]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"dataset", "model", "accuracy", "minirocket_accuracy", "seconds", "params"} <= set(summary)
    assert summary["dataset"] == "Toy" and summary["model"] == "mptsnet-cpu" and summary["params"] > 0
    assert summary["accuracy"] >= 0.9 and summary["minirocket_accuracy"] >= 0.9  # the ramps are easy
    clf = SeriesClassifier.load(toy / "model")
    assert set(clf.predict(np.linspace(-1, 1, 32)[None, None].astype(np.float32))) == {"up"}


def test_an_ensemble_also_reports_its_first_network(toy, capsys):
    args = ["--dataset", "Toy", "--data-dir", str(toy), "--epochs", "3", "--val-folds", "2", "--threads", "1"]
    assert uea.main([*args, "--ensemble", "2", "--no-minirocket"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["networks"] == 2 and summary["accuracy"] >= 0.9
    assert 0.9 <= summary["final_network_accuracy"] <= 1.0  # scored alone, on the same test split


def test_paper_protocol_reports_the_best_test_epoch_beside_the_last(toy, capsys):
    args = ["--dataset", "Toy", "--data-dir", str(toy), "--epochs", "4", "--threads", "1", "--no-minirocket"]
    assert uea.main([*args, "--paper-protocol"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    curve = summary["test_by_epoch"]
    assert len(curve) == 4 and summary["selected_epoch"] == 4 and summary["val_loss"] is None
    assert summary["accuracy"] == curve[-1] and summary["best_test_accuracy"] == max(curve)
    assert curve[summary["best_test_epoch"] - 1] == max(curve)
    assert uea.main([*args, "--paper-protocol", "--fold-ensemble"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--fold-ensemble" in err and err.count("\n") == 0


def test_set_overrides_a_config_field_and_refuses_bad_ones_in_one_line(toy, capsys, tmp_path):
    args = ["--dataset", "Toy", "--data-dir", str(toy), "--epochs", "2", "--val-folds", "2", "--threads", "1"]
    assert uea.main([*args, "--no-minirocket", "--set", "head=mean", "--out", str(tmp_path / "m")]) == 0
    assert SeriesClassifier.load(tmp_path / "m").network_.config.head == "mean"
    capsys.readouterr()
    for bad in ("head=max", "heads", "no_such_field=1"):
        assert uea.main([*args, "--set", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("--set") and err.count("\n") == 0


def test_a_missing_dataset_is_one_line_and_exit_2(tmp_path, capsys):
    assert uea.main(["--dataset", "Nowhere", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Nowhere" in err and "no such file" in err
