"""The one resolver of shipped and saved weights (tfsignal.weights): kinds, names, paths, round trips."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tfsignal import models, weights
from tfsignal.io import InputFileError

SMALL = dict(embed_dim=16, window_dim=32, ff_dim=32, cnn_hidden=16, heads=2)  # a quick MPTSNet
SHIPPED = {
    "enhancer": "model",
    "enhancer-stream": "model",
    "tspulse": "model",
    "sample": "tokenizer",
    "tfm": "tokenizer",
    "tfm-fast": "tokenizer",
}


def small_net():
    return models.create("mptsnet-cpu", n_channels=2, seq_len=64, n_classes=3, **SMALL)


def test_every_shipped_artefact_is_listed_with_its_kind_and_lives_in_the_package():
    assert weights.shipped() == sorted(SHIPPED)
    for kind in weights.KINDS:
        assert set(weights.shipped(kind)) == {n for n, k in SHIPPED.items() if k == kind}
    assert weights.shipped("model") == models.pretrained()
    assert weights.shipped_dir() == Path(models.__file__).parent / "pretrained"
    for name, kind in SHIPPED.items():  # each config says what it holds
        assert json.loads(weights.resolve(name).read_text())["kind"] == kind


def test_load_rebuilds_each_kind_and_refuses_the_wrong_one():
    tfsignal_tokenizers = pytest.importorskip("tfsignal.tokenizers")
    assert isinstance(weights.load("tfm"), tfsignal_tokenizers.TFMTokenizer)
    assert isinstance(weights.load("sample"), tfsignal_tokenizers.SampleTokenizer)
    enhancer = weights.load("enhancer-stream")
    assert isinstance(enhancer, torch.nn.Module) and not enhancer.training
    with pytest.raises(ValueError, match="holds a tokenizer, not a model"):
        weights.load("tfm", kind="model")
    with pytest.raises(ValueError, match="not a tokenizer"):
        tfsignal_tokenizers.TFMTokenizer.load("enhancer")
    with pytest.raises(ValueError, match="'sample' tokenizer, not 'tfm'"):
        tfsignal_tokenizers.TFMTokenizer.load("sample")


def test_unknown_names_list_what_ships():
    with pytest.raises(FileNotFoundError, match=r"no such model \(shipped: enhancer, enhancer-stream, tspulse"):
        models.load("enhancr")
    with pytest.raises(FileNotFoundError, match="shipped: sample, tfm, tfm-fast"):
        weights.load("tfn", kind="tokenizer")


def test_a_model_round_trips_through_a_path_a_folder_and_a_file_name(tmp_path):
    model = small_net()
    path = weights.save(model, tmp_path / "net", note="hello")
    x = torch.randn(4, 64, 2)
    for ref in (path, tmp_path, tmp_path / "net.json", tmp_path / "net.safetensors", str(path)):
        again = weights.load(ref)
        torch.testing.assert_close(again(x), model.eval()(x))
        assert weights.config(ref)["note"] == "hello" and weights.config(ref)["kind"] == "model"


def test_writes_are_refused_not_replaced_unless_asked(tmp_path):
    model = small_net()
    weights.save(model, tmp_path / "net")
    before = (tmp_path / "net.safetensors").read_bytes()
    other = small_net()
    with pytest.raises(InputFileError, match="already exists"):
        weights.save(other, tmp_path / "net")
    assert (tmp_path / "net.safetensors").read_bytes() == before
    weights.save(other, tmp_path / "net", overwrite=True)
    assert (tmp_path / "net.safetensors").read_bytes() != before
    with pytest.raises(ValueError, match="kind"):
        weights.write(tmp_path / "x", {"model": "mptsnet"}, {})
    assert not (tmp_path / "x.safetensors").exists()


def test_a_tokenizer_round_trips_and_a_config_without_kind_still_loads(tmp_path):
    tokenizers = pytest.importorskip("tfsignal.tokenizers")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2000))
    tok = tokenizers.SampleTokenizer(n_codes=16, max_steps=3, progress=False, sfreq=250.0).fit(x)
    path = weights.save(tok, tmp_path / "tok")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["kind"] == "tokenizer"
    del meta["kind"]  # as written before the field existed
    path.with_suffix(".json").write_text(json.dumps(meta))
    again = tokenizers.load_tokenizer(path)
    np.testing.assert_array_equal(again.transform(x), tok.transform(x))


def test_a_classifier_folder_loads_by_kind(tmp_path):
    classification = pytest.importorskip("tfsignal.classification")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((24, 2, 64)).astype(np.float32), np.repeat([0, 1, 2], 8)
    clf = classification.SeriesClassifier("mptsnet", model_options=SMALL, epochs=1, progress=False).fit(X, y)
    weights.save(clf, tmp_path / "clf")
    with pytest.raises(FileExistsError, match="overwrite"):
        clf.save(tmp_path / "clf")
    again = weights.load(tmp_path / "clf")
    assert isinstance(again, classification.SeriesClassifier)
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    assert weights.load(tmp_path / "clf" / "classifier.json", kind="classifier").classes_.tolist() == [0, 1, 2]
