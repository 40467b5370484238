"""``tfsignal tokenize``: tokens of real EEG to .npz, and the batch safety rules."""

import shutil

import numpy as np
import pytest

mne = pytest.importorskip("mne")
from tfsignal.cli import main  # noqa: E402
from tfsignal.tokenizers import SampleTokenizer, TFMTokenizer  # noqa: E402

TINY_TFM = dict(n_codes=32, dim=16, heads=2, freq_depth=1, temporal_depth=1, decoder_depth=1, progress=False)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def tokenizer_json(tmp_path_factory):
    """A tiny TFM tokenizer trained for a few steps on simulated data and saved."""
    rng = np.random.default_rng(0)
    tok = TFMTokenizer(sfreq=200.0, max_steps=3, **TINY_TFM).fit(rng.standard_normal((2, 2000)))
    return tok.set_params(sfreq=None).save(tmp_path_factory.mktemp("tok") / "tiny").with_suffix(".json")


def test_tokenize_writes_tokens_with_channel_names(tmp_path, data_dir, tokenizer_json, capsys):
    out = tmp_path / "tokens.npz"
    args = ["tokenize", str(data_dir / "eeg_fp1_60s.edf"), "-o", str(out), "--tokenizer", str(tokenizer_json)]
    assert main(args) == 0
    assert lines(capsys.readouterr().out) == [str(out)]
    saved = np.load(out)
    # 60 s at 128 Hz -> 12000 samples at 200 Hz -> (12000 - 200) / 100 + 1 frames of 1 s, hop 0.5 s
    assert saved["tokens"].shape == (1, 119) and saved["tokens"].max() < 32
    assert list(saved["ch_names"]) == ["Fp1"] and float(saved["tokens_per_second"]) == 2.0
    tok = TFMTokenizer.load(tokenizer_json)
    raw = mne.io.read_raw_edf(data_dir / "eeg_fp1_60s.edf", preload=True, verbose="error")
    assert np.array_equal(saved["tokens"], tok.transform(raw))


def test_tokenize_refuses_to_replace_and_goes_on_after_a_bad_file(tmp_path, data_dir, tokenizer_json, capsys):
    good = tmp_path / "good.edf"
    shutil.copy(data_dir / "eeg_fp1_60s.edf", good)
    broken = tmp_path / "broken.edf"
    broken.write_bytes(b"not an EDF file at all")
    out = tmp_path / "tokens"
    args = ["tokenize", str(broken), str(good), str(tmp_path / "missing.edf"), "-o", str(out)]
    assert main(args + ["--tokenizer", str(tokenizer_json)]) == 2
    err = lines(capsys.readouterr().err)
    assert len(err) == 2 and "broken.edf" in err[0] and "missing.edf" in err[1]
    assert sorted(p.name for p in out.iterdir()) == ["good.npz"]
    before = (out / "good.npz").read_bytes()
    assert main(["tokenize", str(good), "-o", str(out / "good.npz"), "--tokenizer", str(tokenizer_json)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "good.npz").read_bytes() == before
    assert main(["tokenize", str(good), "-o", str(good), "--tokenizer", str(tokenizer_json), "--overwrite"]) == 2
    assert good.read_bytes() == (data_dir / "eeg_fp1_60s.edf").read_bytes()


def test_tokenize_tokenizer_mistakes_exit_2_with_one_line(tmp_path, data_dir, capsys):
    rec = str(data_dir / "eeg_fp1_60s.edf")
    assert main(["tokenize", rec, "-o", str(tmp_path / "t.npz"), "--tokenizer", str(tmp_path / "nope.json")]) == 2
    assert main(["tokenize", rec, "-o", str(tmp_path / "t.npz"), "--tokenizer", "nonsense"]) == 2
    err = lines(capsys.readouterr().err)
    assert len(err) == 2 and all("tokenizer" in line for line in err)


def test_sample_tokenizer_through_the_cli(tmp_path, data_dir, capsys):
    rng = np.random.default_rng(1)
    tok = SampleTokenizer(sfreq=250.0, n_codes=8, hidden=8, max_steps=2, progress=False)
    path = tok.fit(rng.standard_normal((1, 1000))).set_params(sfreq=None).save(tmp_path / "s")
    out = tmp_path / "s.npz"
    assert main(["tokenize", str(data_dir / "eeg_fp1_60s.edf"), "-o", str(out), "--tokenizer", f"{path}.json"]) == 0
    saved = np.load(out)
    assert saved["tokens"].shape == (1, 15000) and float(saved["tokens_per_second"]) == 250.0
