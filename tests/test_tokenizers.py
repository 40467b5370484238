"""TFM and sample tokenizers: input handling, the VQ, the estimator API, save/load and pipelines."""

import numpy as np
import pytest
import torch

mne = pytest.importorskip("mne")
from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from tfsignal.tokenizers import SampleTokenizer, TFMTokenizer, TokenHistogram, VectorQuantizer  # noqa: E402
from tfsignal.tokenizers.base import as_epochs  # noqa: E402

TINY_TFM = dict(n_codes=64, dim=16, heads=2, freq_depth=1, temporal_depth=1, decoder_depth=1, progress=False)
TINY_SAMPLE = dict(n_codes=16, hidden=16, progress=False)


def oscillation(freq, n_channels, seconds, sfreq, rng):
    t = np.arange(int(seconds * sfreq)) / sfreq
    phase = rng.uniform(0, 2 * np.pi, (n_channels, 1))
    return np.sin(2 * np.pi * freq * t + phase) + 0.3 * rng.standard_normal((n_channels, len(t)))


def test_inputs_arrays_raw_and_epochs():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3, 1000))
    with pytest.raises(ValueError, match="sfreq"):
        as_epochs(data, None)
    out, rate, continuous = as_epochs(data, 100.0)
    assert out.shape == (1, 3, 1000) and rate == 100.0 and continuous
    info = mne.create_info(["C3", "Cz", "C4"], 100.0, "eeg")
    raw = mne.io.RawArray(data, info, verbose="error")
    out, rate, continuous = as_epochs(raw, None)
    assert out.shape == (1, 3, 1000) and continuous and np.allclose(out[0], data)
    with pytest.raises(ValueError, match="recording says 100"):
        as_epochs(raw, 250.0)
    epochs = mne.EpochsArray(rng.standard_normal((4, 3, 200)), info, verbose="error")
    out, _, continuous = as_epochs(epochs, None)
    assert out.shape == (4, 3, 200) and not continuous
    bad = data.copy()
    bad[1, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        as_epochs(bad, 100.0)
    with pytest.raises(ValueError, match="shape"):
        as_epochs(data[0], 100.0)


def test_vq_learns_planted_directions_and_restarts_dead_codes():
    torch.manual_seed(0)
    centres = torch.nn.functional.normalize(torch.randn(8, 16), dim=-1)
    vq = VectorQuantizer(n_codes=32, dim=16, decay=0.9).train()
    for _ in range(200):
        labels = torch.randint(8, (256,))
        vq(centres[labels] + 0.05 * torch.randn(256, 16))
    assert torch.allclose(vq.codebook.norm(dim=-1), torch.ones(32), atol=1e-5)
    codes = vq.codes(centres)
    assert len(set(codes.tolist())) == 8  # each planted direction has its own code
    assert (vq.lookup(codes) * centres).sum(-1).min() > 0.99  # and the code sits on it
    # only the codes in use keep counts above the restart threshold; the rest are restarted on data
    live = vq.counts > vq.restart_threshold
    assert live.sum() >= 8
    assert ((vq.codebook[~live] @ centres.t()).max(-1).values > 0.9).all()


def test_vq_straight_through_and_commitment():
    vq = VectorQuantizer(n_codes=4, dim=3).eval()
    z = torch.randn(5, 3, requires_grad=True)
    q, idx, commitment = vq(z)
    assert q.shape == (5, 3) and idx.shape == (5,)
    (q.sum() + commitment).backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()


def test_tfm_shapes_channel_independence_and_scale():
    rng = np.random.default_rng(1)
    X = oscillation(10.0, 3, 20.0, 160.0, rng)
    tok = TFMTokenizer(sfreq=160.0, max_steps=5, **TINY_TFM).fit(X)
    tokens = tok.transform(X)
    n_samples_200 = 20 * 200
    assert tokens.shape == (3, (n_samples_200 - 200) // 100 + 1) and tokens.dtype == np.int64
    assert tokens.min() >= 0 and tokens.max() < 64
    # each channel is tokenised alone and after per-channel scaling: subsets and units do not matter
    assert np.array_equal(tok.transform(X[1:2] * 1e-6), tokens[1:2])
    epochs = np.stack([X, X[::-1]])
    assert tok.transform(epochs).shape == (2, 3, tokens.shape[1])
    assert tok.inverse_transform(tokens).shape == (3, 100, tokens.shape[1])
    with pytest.raises(ValueError, match="at least 2 s"):
        tok.transform(X[:, :100])
    with pytest.raises(ValueError, match=r"\[0, 64\)"):
        tok.inverse_transform(np.full((1, 5), 64))


def test_tfm_inference_path_matches_encode(data_dir):
    from tfsignal.io import load_eeg

    # the shipped model on 30 s of held-out 64-channel EEG, plus a flat channel and a pure 10 Hz sine
    # (every frame alike, so the time path's GroupNorm sees no variance over frames)
    tok = TFMTokenizer.load("tfm")
    data, _ = tok._prepare(load_eeg(data_dir / "eegmmidb_S006R04_30s.edf"))
    signals = torch.from_numpy(data[0, :16])
    signals[0] = 0.0
    signals[1] = torch.sin(2 * torch.pi * 10 * torch.arange(signals.shape[-1]) / 200)
    # and an untrained network with two heads per layer and two band-mixer layers
    torch.manual_seed(0)
    untrained = TFMTokenizer(**{**TINY_TFM, "freq_depth": 2})._build().eval()
    for net in (tok.network_, untrained):
        with torch.inference_mode():
            spec = net.spectrogram(signals)
            reference = net.encode(spec, signals)
            frames_first = net.spectrogram_frames(signals)
            assert torch.equal(frames_first, spec.transpose(1, 2))  # the same numbers, laid out for inference
            fast = net.encode_inference(frames_first, signals, chunk_frames=100)  # chunks that split rows
            torch.testing.assert_close(fast[2:], reference[2:], rtol=0, atol=1e-5)
            # on the sine both paths lie ~4e-5 from a float64 forward pass (the near-zero variance
            # over frames amplifies rounding), so it gets a wider tolerance
            torch.testing.assert_close(fast[:2], reference[:2], rtol=0, atol=1e-4)
            if net is tok.network_:
                assert torch.equal(net.tokens(signals), net.quantizer.codes(reference))


def test_tfm_learns_to_reconstruct_and_separate_rhythms():
    rng = np.random.default_rng(2)
    slow, fast = oscillation(6.0, 4, 30.0, 200.0, rng), oscillation(30.0, 4, 30.0, 200.0, rng)
    X = np.concatenate([slow, fast])
    tok = TFMTokenizer(sfreq=200.0, max_steps=150, batch_size=8, window_s=5.0, lr=5e-3, **TINY_TFM).fit(X)
    assert np.mean(tok.loss_curve_[-10:]) < 0.2 * np.mean(tok.loss_curve_[:10])
    scores = tok.scores(X)
    assert set(scores) == {"pve", "usage", "perplexity"}
    assert scores["pve"] > 0.8
    tokens = tok.transform(X)
    slow_codes, fast_codes = set(tokens[:4].ravel()), set(tokens[4:].ravel())
    assert not slow_codes & fast_codes  # a 6 Hz rhythm and a 30 Hz rhythm never share a token


def test_estimator_api_and_save_load(tmp_path):
    rng = np.random.default_rng(3)
    X = oscillation(10.0, 2, 10.0, 200.0, rng)
    tok = TFMTokenizer(sfreq=200.0, max_steps=3, **TINY_TFM)
    assert clone(tok).get_params() == tok.get_params()
    assert tok.set_params(n_codes=32).n_codes == 32
    tok.fit(X)
    path = tok.save(tmp_path / "mine")
    with pytest.raises(ValueError, match="already exists"):
        tok.save(tmp_path / "mine")
    again = TFMTokenizer.load(path)
    assert again.get_params()["n_codes"] == 32
    assert np.array_equal(again.set_params(sfreq=200.0).transform(X), tok.transform(X))
    with pytest.raises(FileNotFoundError, match="no such tokenizer"):
        TFMTokenizer.load(tmp_path / "missing")
    with pytest.raises(ValueError, match="not 'sample'"):
        SampleTokenizer.load(path)


def test_sample_tokenizer_reconstructs_and_segments_consistently():
    rng = np.random.default_rng(4)
    X = oscillation(8.0, 2, 20.0, 250.0, rng) + 0.5 * oscillation(21.0, 2, 20.0, 250.0, rng)
    tok = SampleTokenizer(sfreq=250.0, max_steps=100, batch_size=16, window_s=0.5, lr=2e-2, **TINY_SAMPLE).fit(X)
    tokens = tok.transform(X)
    assert tokens.shape == X.shape
    assert tok.inverse_transform(tokens).shape == X.shape
    assert tok.score(X) > 0.8
    # the 10 s segments with 1 s of lead-in give the tokens of one pass over the whole signal
    whole = tok.set_params(segment_s=100.0).transform(X)
    assert (whole == tokens).mean() > 0.98


def test_sample_decode_by_lookup_matches_the_one_hot_convolution():
    from tfsignal.models.sample_tokenizer import SampleConfig, SampleNet

    torch.manual_seed(0)
    for kernel_size in (10, 7):  # even kernels reach one sample further ahead
        net = SampleNet(SampleConfig(n_codes=16, hidden=8, kernel_size=kernel_size))
        net.bias.data.fill_(0.3)
        tokens = torch.randint(16, (3, 200))
        with torch.no_grad():
            expected = net.reconstruct(torch.nn.functional.one_hot(tokens, 16).float())
            torch.testing.assert_close(net.decode(tokens), expected, rtol=0, atol=1e-5)


def test_worker_threads_give_the_same_tokens_and_scores():
    rng = np.random.default_rng(6)
    X = oscillation(10.0, 5, 12.0, 256.0, rng)  # resampled to 200 / 250 Hz inside, in row blocks
    for tok in (
        TFMTokenizer(sfreq=256.0, max_steps=3, **TINY_TFM).fit(X),
        SampleTokenizer(sfreq=256.0, max_steps=3, **TINY_SAMPLE).fit(X),
    ):
        one = tok.set_params(n_jobs=1, inference_batch_samples=2000)  # several batches per worker
        tokens, score = one.transform(X), one.score(X)
        threads = torch.get_num_threads()
        three = tok.set_params(n_jobs=3)
        assert np.array_equal(three.transform(X), tokens)
        assert three.score(X) == pytest.approx(score)
        assert torch.get_num_threads() == threads  # the workers' single-threading is undone


def test_pipeline_on_epochs_with_cross_validation():
    rng = np.random.default_rng(5)
    sfreq, n_epochs = 200.0, 40
    y = np.arange(n_epochs) % 2
    data = np.stack([oscillation(10.0 if label else 25.0, 2, 4.0, sfreq, rng) for label in y])
    epochs = mne.EpochsArray(data, mne.create_info(["C3", "C4"], sfreq, "eeg"), verbose="error")
    pipe = Pipeline(
        [
            ("tokens", TFMTokenizer(max_steps=40, batch_size=16, window_s=4.0, **TINY_TFM)),
            ("hist", TokenHistogram(n_codes=64)),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    )
    scores = cross_val_score(pipe, epochs, y, cv=3)
    assert scores.mean() > 0.9


def test_token_transformer_classifier_learns_planted_tokens():
    from tfsignal.tokenizers import TokenTransformerClassifier

    rng = np.random.default_rng(6)
    y = np.arange(60) % 2
    tokens = rng.integers(0, 16, size=(60, 3, 8))
    shifted = (rng.random(tokens.shape) < 0.3) & (y[:, None, None] == 1)
    tokens[shifted] = rng.integers(16, 20, size=shifted.sum())  # class 1 also uses codes 16-19
    codebook = rng.standard_normal((20, 8)).astype(np.float32)
    clf = TokenTransformerClassifier(codebook=codebook, depth=1, heads=2, epochs=30, dropout=0.0)
    clf.fit(tokens[:40], y[:40])
    assert np.allclose(clf.network_.token.weight.detach().numpy(), codebook) is False  # trained from it
    assert clf.predict_proba(tokens[40:]).shape == (20, 2)
    assert (clf.predict(tokens[40:]) == y[40:]).mean() >= 0.9
    with pytest.raises(ValueError, match="n_codes or codebook"):
        TokenTransformerClassifier().fit(tokens, y)
