"""recipes.meg.meggpt.train on a few seconds of simulated MEG: the JSON line, the saved files, resuming, refusals."""

import json

import numpy as np
import pytest
import torch

from recipes.meg.meggpt import train as recipe
from tfsignal import models, weights

# 6 parcels x 40 s, a few training steps and 2 s of generation: seconds, not minutes
TINY = ["--sim-seconds", "40", "--sim-parcels", "6", "--generate-seconds", "2", "--quiet", "--threads", "1"]
KEYS = {
    "data", "tokenizer", "model", "params", "n_channels", "vocab_size", "token_rate", "usage", "perplexity", "steps",
    "train_loss", "val_loss", "top1", "top5", "top1_repeat", "top1_majority", "psd_similarity",
    "psd_similarity_reconstruction", "psd_similarity_unigram", "generated_seconds", "seconds",
}  # fmt: skip


@pytest.fixture(scope="module")
def tokenizer_path(tmp_path_factory):
    """A SampleTokenizer fitted for a few steps on another simulated recording and saved."""
    from tfsignal.simulate import simulate_meg
    from tfsignal.tokenizers import SampleTokenizer

    x = simulate_meg(n_parcels=4, duration_s=20.0, seed=99)
    tokenizer = SampleTokenizer(sfreq=250.0, max_steps=3, batch_size=8, window_s=1.0, n_codes=32, progress=False)
    return tokenizer.fit(x).save(tmp_path_factory.mktemp("tokenizer") / "sample")


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_trains_evaluates_generates_and_saves(tmp_path, tokenizer_path, capsys):
    out = tmp_path / "run"
    args = ["--out", str(out), "--tokenizer", str(tokenizer_path), *TINY]
    assert recipe.main([*args, "--steps", "30", "--warmup", "0.1"]) == 0
    summary = last_json(capsys)
    assert KEYS <= set(summary)
    assert summary["model"] == "meg-gpt-tiny" and summary["steps"] == 30
    assert summary["n_channels"] == 6 and summary["vocab_size"] == 32 and summary["token_rate"] == 250.0
    assert 0 <= summary["top1"] <= summary["top5"] <= 1
    assert summary["val_loss"] < np.log(32)  # better than guessing among the codes after 30 steps
    assert -1 <= summary["psd_similarity"] <= 1 and summary["generated_seconds"] == 2.0
    assert all(-1 <= summary[k] <= 1 for k in ("psd_similarity_reconstruction", "psd_similarity_unigram"))
    for name in ("meggpt.json", "meggpt.safetensors", "tokens.npz", "generated.npz"):
        assert (out / name).is_file()
    model = models.load(out / "meggpt")
    assert model.config.vocab_size == 32 and model.config.n_channels == 6
    assert sum(p.numel() for p in model.parameters()) == summary["params"]
    assert weights.config(out / "meggpt")["metrics"]["top1"] == summary["top1"]
    with np.load(out / "generated.npz") as generated:
        assert generated["tokens"].shape == (6, 500) and generated["signal"].shape == (6, 500)
        assert generated["tokens"].max() < 32 and np.isfinite(generated["signal"]).all()

    # resumed: the saved tokens and model give the same held-out scores
    assert recipe.main([*args, "--evaluate-only"]) == 0
    err = capsys.readouterr()
    again = json.loads(err.out.strip().splitlines()[-1])
    assert "reusing" in err.err
    assert {k: again[k] for k in ("top1", "top5", "val_loss")} == {k: summary[k] for k in ("top1", "top5", "val_loss")}
    tokens = torch.from_numpy(np.load(out / "tokens.npz")["test"][:, :80].astype(np.int64))[None]
    assert model(tokens).shape == (1, 6, 80, 32)


def test_fits_a_tokenizer_when_none_can_be_loaded(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--out", str(out), "--tokenizer", str(tmp_path / "missing"), "--tokenizer-steps", "1", *TINY]
    assert recipe.main([*args, "--steps", "2", "--eval-last", "4"]) == 0
    captured = capsys.readouterr()
    assert "note: cannot load tokenizer" in captured.err and "fitting a SampleTokenizer" in captured.err
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["tokenizer"].startswith("fitted here") and summary["vocab_size"] == 128
    assert (out / "tokenizer.json").is_file() and (out / "tokenizer.safetensors").is_file()


def test_reads_token_archives_of_recipes_camcan(tmp_path, tokenizer_path, capsys):
    # the layout the camcan recipe writes: subjects' (n_parcels, n_tokens) arrays side by side, with their lengths
    rng = np.random.default_rng(0)

    def archive(path, lengths):
        tokens = np.concatenate([rng.integers(0, 32, (6, n)).astype(np.int16) for n in lengths], axis=1)
        subjects = np.array([f"sub-{i}" for i in range(len(lengths))])
        np.savez(
            path,
            tokens=tokens,
            lengths=np.array(lengths),
            subjects=subjects,
            sfreq=np.float64(250.0),
            n_codes=np.int64(32),
            settings="{}",
        )

    archive(tmp_path / "train_tokens.npz", [900, 700])
    archive(tmp_path / "test_tokens.npz", [400])
    args = ["--out", str(tmp_path / "run"), "--data", str(tmp_path / "train_tokens.npz"), "--steps", "3"]
    assert recipe.main([*args, "--tokenizer", str(tokenizer_path), "--generate-seconds", "1", "--quiet"]) == 0
    summary = last_json(capsys)
    assert summary["train_tokens"] == 6 * 1600 and summary["vocab_size"] == 32 and summary["n_channels"] == 6
    assert summary["psd_reference"] == "decoded held-out tokens" and summary["psd_similarity_reconstruction"] is None
    assert -1 <= summary["psd_similarity"] <= 1
    # without a tokenizer the generation is kept as tokens only
    assert recipe.main([*args, "--tokenizer", str(tmp_path / "none"), "--generate-seconds", "1", "--quiet"]) == 0
    assert last_json(capsys)["psd_similarity"] is None


def test_user_mistakes_are_one_line_and_exit_2(tmp_path, capsys):
    assert recipe.main(["--out", str(tmp_path)]) == 2
    assert "--minutes, --steps" in capsys.readouterr().err
    assert recipe.main(["--out", str(tmp_path), "--steps", "1", "--data", str(tmp_path / "none.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no such file" in err
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros(10))
    assert recipe.main(["--out", str(tmp_path), "--steps", "1", "--data", str(bad)]) == 2
    assert "(n_channels, n_samples)" in capsys.readouterr().err
