"""SeriesClassifier: cross-validated epoch choice, resampling, and starting from pre-trained weights."""

import numpy as np
import pytest
import torch

import tfsignal.models.mptsnet  # noqa: F401  (registers "mptsnet" with tfsignal.models)
import tfsignal.models.tspulse  # noqa: F401  (registers "tspulse")
from tfsignal import models
from tfsignal.classification import SeriesClassifier
from tfsignal.series import resample

# A small TSPulse "backbone" without a classification head, as pre-training leaves it.
SMALL = dict(embed_dim=16, window_dim=32, ff_dim=32, cnn_hidden=16, heads=2)  # a quick MPTSNet
BACKBONE = dict(seq_len=64, d_model=12, n_layers=1, n_decoder_layers=1, n_registers=2, register_layers=1)
BACKBONE.update(horizon=8, dropout=0.0, head_dropout=0.0)


def planted(n, seed):
    """Two classes of noisy sines (period 8 vs 16 steps over 64), lengths 40..80."""
    rng = np.random.default_rng(seed)
    series, labels = [], []
    for i in range(n):
        length = rng.integers(40, 81)
        t = np.arange(length) * 64 / length  # every series spans the same duration
        clean = np.sin(2 * np.pi * t / (8, 16)[i % 2] + rng.uniform(0, 6.3))[None]
        series.append((clean + 0.3 * rng.standard_normal(clean.shape)).astype(np.float32))
        labels.append(("slow", "fast")[i % 2 == 0])
    return series, np.array(labels)


def test_folds_partition_the_training_set_stratified():
    labels = np.repeat([0, 1, 2], [12, 8, 20])
    clf = SeriesClassifier(val_folds=4)
    clf.classes_ = np.arange(3)
    folds = clf._folds(labels)
    assert len(folds) == 4
    held_out = np.concatenate([val for _, val in folds])
    assert sorted(held_out) == list(range(40))  # every series is held out exactly once
    for fit, val in folds:
        assert not set(fit) & set(val)
        assert np.bincount(labels[val], minlength=3).tolist() == [3, 2, 5]  # the class shares of the whole set


def test_one_fold_holds_out_a_val_fraction_part_and_rare_classes_fall_back_to_it():
    labels = np.repeat([0, 1], [30, 10])
    clf = SeriesClassifier(val_folds=1, val_fraction=0.25)
    clf.classes_ = np.arange(2)
    ((fit, val),) = clf._folds(labels)
    assert len(val) == 10 and len(fit) == 30
    four = SeriesClassifier(val_folds=4)
    four.classes_ = np.arange(2)
    rare = np.array([0] * 10 + [1])  # one series of class 1: no stratified folds possible
    assert len(four._folds(rare)) == 1


def test_negative_val_folds_and_a_fold_ensemble_without_folds_are_refused():
    X, y = planted(8, 0)
    with pytest.raises(ValueError, match="val_folds"):
        SeriesClassifier(val_folds=-1).fit(X, y)
    with pytest.raises(ValueError, match="fold_ensemble"):
        SeriesClassifier(val_folds=0, fold_ensemble=True).fit(X, y)


def test_no_selection_trains_fixed_epochs_and_eval_set_only_watches():
    X, y = planted(24, 0)
    X_eval, y_eval = planted(16, 1)
    options = dict(model_options=SMALL, epochs=3, val_folds=0, progress=False)
    watched = SeriesClassifier("mptsnet", **options).fit(X, y, eval_set=(X_eval, y_eval))
    assert watched.best_epoch_ == 3 and len(watched.eval_accuracy_) == 3  # one score per epoch
    assert watched.eval_accuracy_[-1] == pytest.approx(watched.score(X_eval, y_eval))  # the last is the final network
    assert np.isnan(watched.val_loss_)
    plain = SeriesClassifier("mptsnet", **options).fit(X, y)  # scoring the eval set changes nothing in training
    assert plain.eval_accuracy_ == []
    np.testing.assert_allclose(plain.predict_proba(X_eval), watched.predict_proba(X_eval), atol=1e-6)
    with pytest.raises(ValueError, match="labels the training data lacks"):
        SeriesClassifier("mptsnet", **options).fit(X, y, eval_set=(X_eval, np.array(["other"] * 16)))


@pytest.mark.parametrize("selection, expected", [("loss", 3), ("accuracy", 6)])
def test_the_selected_epoch_follows_the_pooled_loss_or_accuracy(monkeypatch, selection, expected):
    # Scripted held-out results per epoch (summed over folds): the loss is lowest at epoch 3, the
    # accuracy highest at epoch 6 (after the loss has turned up, as on BasicMotions' folds).
    losses = [1.0, 0.8, 0.5, 0.6, 0.7, 0.9, 1.0, 1.1]
    correct = [0.5, 0.6, 0.7, 0.7, 0.7, 0.9, 0.8, 0.8]
    calls = []

    def scripted(net, X, mask, y):
        epoch = len(calls) // 2  # two folds score per epoch
        calls.append(epoch)
        return correct[epoch] * len(y), losses[epoch] * len(y)

    monkeypatch.setattr("tfsignal.classification._evaluate", scripted)
    monkeypatch.setattr(SeriesClassifier, "_loss", lambda *args: torch.zeros((), requires_grad=True))  # no training
    X, y = planted(8, 0)
    clf = SeriesClassifier(epochs=8, patience=8, val_folds=2, selection=selection, progress=False)
    clf.classes_ = np.unique(y)
    labels = np.searchsorted(clf.classes_, y)
    clf.periods_ = [8]
    Xp = np.zeros((8, 16, 1), np.float32)
    _, best = clf._run(Xp, np.zeros((8, 16), bool), labels, 8, clf._folds(labels), "select")
    assert best == expected
    assert clf.val_loss_ == pytest.approx(losses[expected - 1])
    assert clf.val_accuracy_ == pytest.approx(correct[expected - 1])


def test_unknown_selection_is_refused():
    X, y = planted(8, 0)
    with pytest.raises(ValueError, match="selection"):
        SeriesClassifier(selection="f1").fit(X, y)


def test_resample_keeps_a_straight_line_and_fills_missing_steps():
    line = np.linspace(-1.0, 3.0, 17, dtype=np.float32)
    holes = line.copy()
    holes[[3, 9]] = np.nan
    out, mask = resample([line[None], holes[None]], 50)
    assert out.shape == (2, 50, 1) and not mask.any()
    np.testing.assert_allclose(out[0, :, 0], np.linspace(-1.0, 3.0, 50), atol=1e-6)
    np.testing.assert_allclose(out[1], out[0], atol=1e-6)
    with pytest.raises(ValueError, match="only NaN"):
        resample([np.full((1, 5), np.nan)], 8)


@pytest.fixture
def backbone_path(tmp_path):
    torch.manual_seed(0)
    backbone = models.create("tspulse", **BACKBONE)
    (tmp_path / "backbone").mkdir()
    models.save(backbone, tmp_path / "backbone" / "backbone")
    return tmp_path / "backbone", backbone


def test_fine_tuning_starts_from_the_pretrained_weights(backbone_path):
    path, backbone = backbone_path
    clf = SeriesClassifier("tspulse", pretrained=str(path), model_options={"decoder_channel_mixing": True})
    clf.classes_ = np.array(["a", "b", "c"])
    net = clf._new_network(64, 2, [])
    assert net.config.n_classes == 3 and net.config.n_channels == 2 and net.config.decoder_channel_mixing
    torch.testing.assert_close(net.time_embed.weight, backbone.time_embed.weight)
    torch.testing.assert_close(net.encoder.state_dict(), backbone.encoder.state_dict())
    assert net.classifier is not None  # the new head starts fresh


def test_weights_of_another_model_are_refused(tmp_path):
    other = models.create("mptsnet", n_channels=1, seq_len=32, n_classes=2, periods=[8], cnn_hidden=8, window_dim=16)
    (tmp_path / "other").mkdir()
    models.save(other, tmp_path / "other" / "net")
    clf = SeriesClassifier("tspulse", pretrained=str(tmp_path / "other"))
    clf.classes_ = np.array([0, 1])
    with pytest.raises(ValueError, match="MPTSNet weights, not 'tspulse'"):
        clf._new_network(32, 1, [8])


def test_pretrained_classifier_resamples_any_length_and_round_trips(backbone_path, tmp_path):
    path, _ = backbone_path
    X, y = planted(48, 1)
    X_test, y_test = planted(40, 2)
    clf = SeriesClassifier("tspulse", pretrained=str(path), epochs=15, patience=15, val_folds=2, progress=False)
    assert clf.fit(X, y).score(X_test, y_test) >= 0.9
    assert clf.seq_len_ == 64 and 1 <= clf.best_epoch_ <= 15 and 0.0 <= clf.val_accuracy_ <= 1.0
    longer = [np.tile(x, 2) for x in X_test[:4]]  # longer than the context: resampled, not refused
    assert clf.predict(longer).shape == (4,)
    clf.save(tmp_path / "fine-tuned")
    loaded = SeriesClassifier.load(tmp_path / "fine-tuned")
    np.testing.assert_allclose(loaded.predict_proba(X_test), clf.predict_proba(X_test), atol=1e-5)


def test_ensembles_refit_with_new_seeds_and_keep_fold_networks_at_the_chosen_epoch(monkeypatch, tmp_path):
    losses = [1.0, 0.8, 0.5, 0.6, 0.7, 0.9]  # pooled held-out loss per epoch: lowest at epoch 3
    calls = []

    def scripted(net, X, mask, y):
        calls.append(1)
        return 0.5 * len(y), losses[(len(calls) - 1) // 3] * len(y)  # three folds score per epoch

    def one_epoch(self, net, *args):  # "training" adds 1 to the first weight, so it counts epochs
        with torch.no_grad():  # (every fold and the refit fit one mini-batch: one per epoch)
            next(net.parameters()).view(-1)[0] += 1.0
        return torch.zeros((), requires_grad=True)  # no gradient reaches the weights

    monkeypatch.setattr("tfsignal.classification._evaluate", scripted)
    monkeypatch.setattr(SeriesClassifier, "_loss", one_epoch)
    X, y = planted(12, 0)
    clf = SeriesClassifier("mptsnet", model_options=SMALL, epochs=6, patience=6, val_folds=3, progress=False)
    clf.set_params(ensemble=2, fold_ensemble=True).fit(X, y)
    assert clf.best_epoch_ == 3 and clf.n_networks_ == 5 and len(calls) == 18  # all six epochs ran
    # members: the refit with seed 1, then the three folds
    first = [float(next(net.parameters()).view(-1)[0]) for net in [clf.network_, *clf.members_]]
    # seed 0 starts the refit and the folds alike: the refit trained 3 epochs, the folds were rolled back to 3
    assert first[2:] == pytest.approx([first[0]] * 3)
    seed1 = clf._new_network(clf.seq_len_, clf.n_channels_, clf.periods_, seed=1)
    assert first[1] == pytest.approx(float(next(seed1.parameters()).view(-1)[0]) + 3)  # its own start, 3 epochs
    assert abs(first[1] - first[0]) > 1e-4
    with pytest.raises(ValueError, match="ensemble"):
        SeriesClassifier(ensemble=0).fit(X, y)
    clf.save(tmp_path / "ensemble")
    loaded = SeriesClassifier.load(tmp_path / "ensemble")
    assert loaded.n_networks_ == 5
    np.testing.assert_allclose(loaded.predict_proba(X[:4]), clf.predict_proba(X[:4]), atol=1e-6)
    # the ensemble's probabilities are the mean of its networks' own
    with torch.no_grad():  # (here the folds were "trained" alike: make one differ)
        for p in clf.members_[1].parameters():
            p.add_(0.3 * torch.randn_like(p))
    ensemble, nets = clf.predict_proba(X[:4]), [clf.network_, *clf.members_]
    clf.members_ = []
    members = [clf.predict_proba(X[:4]) for clf.network_ in nets]
    np.testing.assert_allclose(ensemble, np.mean(members, axis=0), atol=1e-6)
    assert np.abs(members[2] - members[0]).max() > 1e-3  # a real average
    np.testing.assert_allclose(loaded.predict_proba(X[:4], networks=1), members[0], atol=1e-6)  # the first alone
    with pytest.raises(ValueError, match="at least 1"):
        loaded.predict_proba(X[:4], networks=0)
