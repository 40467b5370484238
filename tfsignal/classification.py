"""Series classifiers with scikit-learn's estimator API around the time-series backbones.

    clf = SeriesClassifier("mptsnet-cpu").fit(X_train, y_train)   # X: (n, C, T) or a list of (C, T)
    clf.score(X_test, y_test); clf.save("runs/japanesevowels"); SeriesClassifier.load("runs/japanesevowels")

``fit`` standardises each channel, pads variable lengths (with a mask), finds the dominant periods
of the training series once (stored in the model config), holds out a stratified validation part
of the *training* data to choose the number of epochs, then (``refit=True``) trains again on all
the training data for that many epochs. The test split is never looked at. ``seq_len`` sets the
longest series the model will accept (default: the longest training series).
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from tfsignal import models
from tfsignal.frontends import top_k_periods
from tfsignal.series import Standardiser, as_series_list, pad


class SeriesClassifier(ClassifierMixin, BaseEstimator):
    def __init__(
        self,
        model: str = "mptsnet-cpu",
        epochs: int = 100,
        batch_size: int = 16,
        lr: float = 1e-3,
        weight_decay: float = 1e-3,
        val_fraction: float = 0.2,
        patience: int = 20,
        refit: bool = True,
        n_periods: int = 5,
        seq_len: int | None = None,
        model_options: dict | None = None,
        seed: int = 0,
        progress: bool = True,
    ) -> None:
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.val_fraction = val_fraction
        self.patience = patience
        self.refit = refit
        self.n_periods = n_periods
        self.seq_len = seq_len
        self.model_options = model_options
        self.seed = seed
        self.progress = progress

    # ------------------------------------------------------------------------------ training

    def _new_network(self, seq_len: int, n_channels: int, periods: list[int]):
        torch.manual_seed(self.seed)
        options = dict(self.model_options or {})
        return models.create(
            self.model, n_channels=n_channels, seq_len=seq_len, n_classes=len(self.classes_), periods=periods, **options
        )

    def _train(self, X, mask, y, epochs: int, val=None, desc: str = "train"):
        """Adam + ReduceLROnPlateau on the training loss (as published). With ``val`` = (X, mask, y),
        returns the network of the best validation epoch and that epoch; otherwise the last."""
        net = self._new_network(X.shape[1], X.shape[2], self.periods_)
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min", factor=0.5, patience=10, min_lr=1e-4)
        generator = torch.Generator().manual_seed(self.seed)
        X, mask, y = torch.from_numpy(X), torch.from_numpy(mask), torch.from_numpy(y)
        best = (-1.0, -np.inf)  # (accuracy, -loss) on validation
        best_state, best_epoch, stale = None, epochs, 0
        bar = tqdm(range(1, epochs + 1), desc=desc, unit="epoch", disable=not self.progress, leave=False)
        for epoch in bar:
            net.train()
            order = torch.randperm(len(y), generator=generator)
            total = 0.0
            for start in range(0, len(y), self.batch_size):
                idx = order[start : start + self.batch_size]
                loss = F.cross_entropy(net(X[idx], mask[idx]), y[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(idx)
            plateau.step(total / len(y))
            if val is None:
                bar.set_postfix(loss=f"{total / len(y):.3f}")
                continue
            accuracy, val_loss = _evaluate(net, *val)
            bar.set_postfix(loss=f"{total / len(y):.3f}", val_acc=f"{accuracy:.3f}")
            if (accuracy, -val_loss) > best:
                best, best_epoch, stale = (accuracy, -val_loss), epoch, 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                stale += 1
                if stale >= self.patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        if val is not None:
            self.val_accuracy_ = best[0]
        return net.eval(), best_epoch

    def fit(self, X, y) -> SeriesClassifier:
        started = time.time()
        series = as_series_list(X)
        y = np.asarray(y)
        if len(series) != len(y):
            raise ValueError(f"{len(series)} series but {len(y)} labels")
        self.classes_, labels = np.unique(y, return_inverse=True)
        labels = labels.astype(np.int64)
        longest = max(x.shape[1] for x in series)
        Xp, mask = pad(series, max(longest, self.seq_len or 0))  # room for longer series at test time
        self.standardiser_ = Standardiser().fit(Xp, mask)
        Xp = self.standardiser_.transform(Xp, mask)
        self.periods_, _ = top_k_periods(torch.from_numpy(Xp), self.n_periods)
        self.n_channels_, self.seq_len_ = Xp.shape[2], Xp.shape[1]

        idx = np.arange(len(labels))
        counts = np.bincount(labels)
        stratify = labels if counts.min() >= 2 else None
        n_val = max(int(round(self.val_fraction * len(labels))), len(self.classes_) if stratify is not None else 1)
        fit_idx, val_idx = train_test_split(idx, test_size=n_val, stratify=stratify, random_state=self.seed)
        val = (Xp[val_idx], mask[val_idx], labels[val_idx])
        net, self.best_epoch_ = self._train(Xp[fit_idx], mask[fit_idx], labels[fit_idx], self.epochs, val, "select")
        if self.refit:
            net, _ = self._train(Xp, mask, labels, self.best_epoch_, None, "refit")
        self.network_ = net
        self.fit_seconds_ = time.time() - started
        return self

    # ---------------------------------------------------------------------------- prediction

    def _prepare(self, X):
        series = as_series_list(X)
        if series[0].shape[0] != self.n_channels_:
            raise ValueError(f"the model takes {self.n_channels_} channel(s), the series have {series[0].shape[0]}")
        Xp, mask = pad(series, self.seq_len_)
        return torch.from_numpy(self.standardiser_.transform(Xp, mask)), torch.from_numpy(mask)

    @torch.no_grad()
    def predict_proba(self, X) -> np.ndarray:
        Xp, mask = self._prepare(X)
        self.network_.eval()
        chunks = [self.network_(Xp[i : i + 256], mask[i : i + 256]).softmax(-1) for i in range(0, len(Xp), 256)]
        return torch.cat(chunks).numpy()

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]

    @property
    def n_params_(self) -> int:
        return sum(p.numel() for p in self.network_.parameters())

    # ------------------------------------------------------------------------------ save/load

    def save(self, folder: str | Path) -> Path:
        """``folder/classifier.safetensors`` + ``.json``: weights, config, classes and channel statistics."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "classes": self.classes_.tolist(),
            "mean": self.standardiser_.mean.tolist(),
            "std": self.standardiser_.std.tolist(),
            "estimator": self.get_params(),
            "selected_epoch": int(self.best_epoch_),
        }
        json.dumps(meta)  # fail before writing anything if a label is not JSON-serialisable
        return models.save(self.network_, folder / "classifier", **meta)

    @classmethod
    def load(cls, folder: str | Path) -> SeriesClassifier:
        network = models.load(folder)
        meta = network.meta
        clf = cls(**meta.get("estimator", {}))
        clf.network_ = network
        clf.classes_ = np.asarray(meta["classes"])
        clf.standardiser_ = Standardiser(meta["mean"], meta["std"])
        clf.periods_ = list(network.config.periods)
        clf.n_channels_, clf.seq_len_ = network.config.n_channels, network.config.seq_len
        clf.best_epoch_ = meta.get("selected_epoch")
        return clf


@torch.no_grad()
def _evaluate(net, X, mask, y) -> tuple[float, float]:
    net.eval()
    logits = net(torch.from_numpy(X), torch.from_numpy(mask))
    target = torch.from_numpy(y)
    return (logits.argmax(1) == target).float().mean().item(), F.cross_entropy(logits, target).item()
