"""Series classifiers with scikit-learn's estimator API around the time-series backbones.

    clf = SeriesClassifier("mptsnet-cpu").fit(X_train, y_train)   # X: (n, C, T) or a list of (C, T)
    clf.score(X_test, y_test); clf.save("runs/japanesevowels"); SeriesClassifier.load("runs/japanesevowels")

``fit`` standardises each channel, pads variable lengths (with a mask) and finds the dominant
periods of the training series once (stored in the model config). It then chooses the number of
epochs by stratified k-fold cross-validation on the *training* data (``val_folds``, default 4): one
network per fold, trained in lockstep, scored every epoch on its held-out fold; the epoch with the
lowest cross-entropy pooled over all held-out series wins (``selection="accuracy"``: the best pooled
accuracy, ties broken by the loss). Pooling matters on small sets: BasicMotions has 40 training
series, and a single 20 % validation part of 8 series picked epoch 3 by luck. The loss is the
default because a few dozen held-out series give a coarse, plateauing accuracy (BasicMotions' folds
sit at 0.875 from epoch 28 on, which picked a late epoch, after the training loss reached zero),
while the loss keeps ranking epochs and turns up once the networks grow overconfident. Finally it
trains once more on all the training data for that many epochs. The test split is never looked at.
With ``pretrained`` (a shipped name such as ``"tspulse"`` or a folder saved by ``models.save``), the
network starts from those weights, keeps their configuration (``model_options`` may add to it, e.g.
``decoder_channel_mixing``) and its new parts (the classification head) start fresh; every series
is then resampled to the pre-trained context length instead of padded.
Ensembles (predictions average the class probabilities of their networks): ``ensemble=n`` trains
the final network ``n`` times with seeds ``seed``, ``seed + 1``, ... (n times the refit);
``fold_ensemble=True`` adds the cross-validation networks, each as it was at the chosen epoch (no
extra training, but each saw only 1 - 1/``val_folds`` of the training data).
``val_folds=1`` holds out one ``val_fraction`` part instead (``refit=False`` then keeps that
part's best network); ``val_folds=0`` selects nothing and trains on all the training data for
``epochs`` epochs. ``seq_len`` sets the longest series the model will accept (default: the
longest training series).
``fit(X, y, eval_set=(X_eval, y_eval))`` scores the final network on ``eval_set`` after every epoch
of its training and keeps the accuracies in ``eval_accuracy_``, for reporting only: nothing is
chosen by them. (The original MPTSNet script reports the best of these per-epoch test accuracies;
``python -m recipes.series.uea.train --paper-protocol`` reproduces that number beside ours.)
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d
from torch import nn

from tfsignal import models, weights
from tfsignal.frontends import top_k_periods
from tfsignal.series import Standardiser, as_series_list, pad, resample
from tfsignal.train.schedules import Plateau, constant
from tfsignal.train.trainer import TrainConfig, Trainer


class SeriesClassifier(ClassifierMixin, BaseEstimator):
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN marks a missing step; infinity is refused
        return tags

    def __init__(
        self,
        model: str = "mptsnet-cpu",
        epochs: int = 100,
        batch_size: int = 16,
        lr: float = 1e-3,
        weight_decay: float = 1e-3,
        val_folds: int = 4,
        val_fraction: float = 0.2,
        patience: int = 20,
        selection: str = "loss",
        refit: bool = True,
        ensemble: int = 1,
        fold_ensemble: bool = False,
        n_periods: int = 5,
        seq_len: int | None = None,
        model_options: dict | None = None,
        pretrained: str | None = None,
        seed: int = 0,
        progress: bool = True,
    ) -> None:
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.val_folds = val_folds
        self.val_fraction = val_fraction
        self.patience = patience
        self.selection = selection
        self.refit = refit
        self.ensemble = ensemble
        self.fold_ensemble = fold_ensemble
        self.n_periods = n_periods
        self.seq_len = seq_len
        self.model_options = model_options
        self.pretrained = pretrained
        self.seed = seed
        self.progress = progress

    # ------------------------------------------------------------------------------ training

    def _new_network(self, seq_len: int, n_channels: int, periods: list[int], seed: int | None = None):
        torch.manual_seed(self.seed if seed is None else seed)
        options = dict(self.model_options or {})
        if self.pretrained is None:
            n_classes = len(self.classes_)
            return models.create(
                self.model, n_channels=n_channels, seq_len=seq_len, n_classes=n_classes, periods=periods, **options
            )
        backbone = models.load(self.pretrained)
        if type(backbone) is not models.model_class(self.model):
            raise ValueError(f"{self.pretrained}: holds {type(backbone).__name__} weights, not {self.model!r} ones")
        config = {**asdict(backbone.config), **options, "n_channels": n_channels, "n_classes": len(self.classes_)}
        net = type(backbone)(type(backbone.config)(**config))
        result = net.load_state_dict(backbone.state_dict(), strict=False)
        if result.unexpected_keys:  # a weight that has no place in the new network: not the same model
            name = type(net).__name__
            raise ValueError(f"{self.pretrained}: weights do not fit {name} ({result.unexpected_keys[0]})")
        return net

    def _context_length(self) -> int | None:
        """The fixed length series are resampled to (a pre-trained backbone's context), or None to pad."""
        if self.pretrained is None:
            return None
        return models.load(self.pretrained).config.seq_len

    def _run(
        self,
        X,
        mask,
        y,
        epochs: int,
        folds: list[tuple[np.ndarray, np.ndarray]] | None,
        desc: str,
        seed=None,
        on_epoch=None,
    ):
        """Adam + ReduceLROnPlateau on the training loss (as published), one network per fold trained
        in lockstep by the shared loop (each step takes one mini-batch of every network's fold). With
        ``folds`` [(fit_idx, val_idx), ...], every epoch scores each network on its held-out part;
        the pooled loss over all held-out series (``selection="accuracy"``: the pooled accuracy, ties
        broken by the loss) picks the epoch, and training stops ``patience`` epochs after the best.
        Returns the networks (with folds: each as it was at the best epoch) and the best epoch
        (``epochs`` without folds). Without folds, ``on_epoch(net)`` is called after every epoch."""
        X, mask, y = torch.from_numpy(X), torch.from_numpy(mask), torch.from_numpy(y)
        parts = [torch.from_numpy(fit_idx) for fit_idx, _ in folds or [(np.arange(len(y)), None)]]
        nets = nn.ModuleList([self._new_network(X.shape[1], X.shape[2], self.periods_, seed) for _ in parts])
        optimizer = torch.optim.Adam(
            [{"params": net.parameters()} for net in nets], lr=self.lr, weight_decay=self.weight_decay
        )
        plateaus = [Plateau(self.lr, factor=0.5, patience=10, min_lr=1e-4) for _ in nets]
        generator = torch.Generator().manual_seed(self.seed if seed is None else seed)
        steps_per_epoch = max(math.ceil(len(idx) / self.batch_size) for idx in parts)
        epoch_loss = [0.0] * len(nets)  # summed over the epoch's series, per network

        def batches(epoch: int):  # each network's fold in its own shuffled order, a mini-batch of each per step
            orders = [idx[torch.randperm(len(idx), generator=generator)] for idx in parts]
            for start in range(0, steps_per_epoch * self.batch_size, self.batch_size):
                yield [order[start : start + self.batch_size] for order in orders]

        def loss_fn(model, batch) -> torch.Tensor:
            total = 0.0
            for k, (net, idx) in enumerate(zip(model, batch)):
                if len(idx):  # a fold with fewer mini-batches sits the last steps out
                    loss = self._loss(net, X[idx], mask[idx], y[idx])
                    epoch_loss[k] += loss.item() * len(idx)
                    total = total + loss
            return total

        def end_of_epoch(model) -> dict:
            for k, (plateau, idx) in enumerate(zip(plateaus, parts)):
                trainer.base_lrs[k] = plateau.step(epoch_loss[k] / len(idx))
                epoch_loss[k] = 0.0
            if folds is None:
                if on_epoch is not None:
                    on_epoch(model[0])
                return {}
            correct = total_loss = 0.0
            for net, (_, val_idx) in zip(model, folds):
                n_correct, loss_sum = _evaluate(net, X[val_idx], mask[val_idx], y[val_idx])
                correct, total_loss = correct + n_correct, total_loss + loss_sum
            n_val = sum(len(val_idx) for _, val_idx in folds)
            accuracy, loss = correct / n_val, total_loss / n_val
            score = (-loss, accuracy) if self.selection == "loss" else (accuracy, -loss)  # the larger the better
            return {"val_accuracy": accuracy, "val_loss": loss, "score": score}

        config = TrainConfig.in_process(
            steps=epochs * steps_per_epoch,
            grad_clip=None,
            val_every=steps_per_epoch,
            best_metric="score",
            restore_best=folds is not None and (len(folds) == 1 or self.fold_ensemble),
            patience=None if folds is None else self.patience,
            progress_bar=self.progress,
            desc=desc,
            leave=False,
        )
        trainer = Trainer(nets, loss_fn, batches, config, val_fn=end_of_epoch, optimizer=optimizer, schedule=constant)
        trainer.fit()
        best_epoch = epochs
        if folds is not None:
            best = trainer.best_metrics or {"val_accuracy": -np.inf, "val_loss": np.inf}
            self.val_accuracy_, self.val_loss_ = best["val_accuracy"], best["val_loss"]
            if trainer.best_step is not None:
                best_epoch = trainer.best_step // steps_per_epoch
        return [net.eval() for net in nets], best_epoch

    def _loss(self, net, X: torch.Tensor, mask: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of ``net`` on one mini-batch."""
        return F.cross_entropy(net(X, mask), y)

    def _folds(self, labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Stratified held-out parts of the training data: ``val_folds`` folds, or with
        ``val_folds=1`` one part of ``val_fraction`` (also used when a class is too rare to split)."""
        idx = np.arange(len(labels))
        counts = np.bincount(labels)
        n_folds = min(self.val_folds, counts.min())
        if n_folds >= 2:
            splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=self.seed)
            return list(splitter.split(idx, labels))
        stratify = labels if counts.min() >= 2 else None
        n_val = max(int(round(self.val_fraction * len(labels))), len(self.classes_) if stratify is not None else 1)
        fit_idx, val_idx = train_test_split(idx, test_size=n_val, stratify=stratify, random_state=self.seed)
        return [(fit_idx, val_idx)]

    def fit(self, X, y, eval_set=None) -> SeriesClassifier:
        started = time.time()
        series = as_series_list(X)
        y = _labels(y, type(self).__name__)
        if len(series) != len(y):
            raise ValueError(f"{len(series)} series but {len(y)} labels")
        if self.selection not in ("loss", "accuracy"):
            raise ValueError(f"selection must be 'loss' or 'accuracy', got {self.selection!r}")
        if self.val_folds < 0:
            raise ValueError(f"val_folds must be 0 (no selection) or more, got {self.val_folds}")
        if self.val_folds == 0 and self.fold_ensemble:
            raise ValueError("fold_ensemble needs cross-validation networks: val_folds must be at least 1")
        if self.ensemble < 1:
            raise ValueError(f"ensemble must be at least 1, got {self.ensemble}")
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"only one class ({self.classes_[0]!r}) in y: a classifier needs at least two")
        labels = labels.astype(np.int64)
        context = self._context_length()
        if context is None:
            longest = max(x.shape[1] for x in series)
            Xp, mask = pad(series, max(longest, self.seq_len or 0))  # room for longer series at test time
        else:
            Xp, mask = resample(series, context)
        self.standardiser_ = Standardiser().fit(Xp, mask)
        Xp = self.standardiser_.transform(Xp, mask)
        # A series of under 4 steps has no period besides its own length: each step is its own segment.
        self.periods_ = top_k_periods(torch.from_numpy(Xp), self.n_periods)[0] if Xp.shape[1] >= 4 else [1]
        self.n_channels_, self.seq_len_ = Xp.shape[2], Xp.shape[1]

        self.eval_accuracy_, record = [], None
        if eval_set is not None:  # scored after every epoch of the final network's training
            X_eval, mask_eval = self._prepare(eval_set[0])
            y_eval = np.asarray(eval_set[1])
            unknown = sorted(set(y_eval.tolist()) - set(self.classes_.tolist()))
            if unknown:
                raise ValueError(f"eval_set has labels the training data lacks: {unknown[:5]}")
            y_eval = torch.from_numpy(np.searchsorted(self.classes_, y_eval).astype(np.int64))

            def record(net):
                self.eval_accuracy_.append(_evaluate(net, X_eval, mask_eval, y_eval)[0] / len(y_eval))

        if self.val_folds == 0:  # no selection: all the training data, a fixed number of epochs
            nets, self.best_epoch_ = self._run(Xp, mask, labels, self.epochs, None, "train", on_epoch=record)
            fold_nets, self.val_accuracy_, self.val_loss_ = nets, float("nan"), float("nan")
        else:
            folds = self._folds(labels)
            fold_nets, self.best_epoch_ = self._run(Xp, mask, labels, self.epochs, folds, "select")
            nets = fold_nets
            if self.refit or len(folds) > 1:
                nets, _ = self._run(Xp, mask, labels, self.best_epoch_, None, "refit", on_epoch=record)
        self.network_ = nets[0]
        self.members_ = []  # the ensemble's other networks
        for k in range(1, self.ensemble):
            self.members_ += self._run(Xp, mask, labels, self.best_epoch_, None, f"refit {k + 1}", self.seed + k)[0]
        if self.fold_ensemble and nets is not fold_nets:
            self.members_ += fold_nets
        self.fit_seconds_ = time.time() - started
        return self

    # ---------------------------------------------------------------------------- prediction

    def _prepare(self, X):
        series = as_series_list(X)
        if series[0].shape[0] != self.n_channels_:
            raise ValueError(f"the model takes {self.n_channels_} channel(s), the series have {series[0].shape[0]}")
        Xp, mask = pad(series, self.seq_len_) if self.pretrained is None else resample(series, self.seq_len_)
        return torch.from_numpy(self.standardiser_.transform(Xp, mask)), torch.from_numpy(mask)

    @torch.no_grad()
    def predict_proba(self, X, networks: int | None = None) -> np.ndarray:
        """Class probabilities (n, n_classes); for an ensemble, the mean over its networks (over
        its first ``networks`` of them if given: 1 is the first network alone)."""
        check_is_fitted(self, "network_")  # NotFittedError before anything else
        if networks is not None and networks < 1:
            raise ValueError(f"networks must be at least 1, got {networks}")
        Xp, mask = self._prepare(X)
        nets = [self.network_, *getattr(self, "members_", [])][:networks]
        total = 0
        for net in nets:
            net.eval()
            total = total + torch.cat(
                [net(Xp[i : i + 256], mask[i : i + 256]).softmax(-1) for i in range(0, len(Xp), 256)]
            )
        return (total / len(nets)).numpy()

    def predict(self, X, networks: int | None = None) -> np.ndarray:
        proba = self.predict_proba(X, networks)
        return self.classes_[proba.argmax(1)]

    @property
    def n_params_(self) -> int:
        """Parameters of one network (an ensemble holds ``n_networks_`` of them)."""
        return sum(p.numel() for p in self.network_.parameters())

    @property
    def n_networks_(self) -> int:
        return 1 + len(getattr(self, "members_", []))

    # ------------------------------------------------------------------------------ save/load

    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """``folder/classifier.safetensors`` + ``.json`` (kind ``"classifier"``): weights, config,
        classes and channel statistics (an ensemble adds ``folder/member1.*``, ...). An existing
        classifier in ``folder`` is replaced only with ``overwrite``."""
        folder = Path(folder)
        if (folder / "classifier.json").exists() and not overwrite:
            raise FileExistsError(f"{folder}: holds a classifier already (pass overwrite=True to replace it)")
        meta = {
            "classes": self.classes_.tolist(),
            "mean": self.standardiser_.mean.tolist(),
            "std": self.standardiser_.std.tolist(),
            "estimator": self.get_params(),
            "selected_epoch": int(self.best_epoch_),
            "members": len(self.members_),
        }
        json.dumps(meta)  # fail before writing anything if a label is not JSON-serialisable
        folder.mkdir(parents=True, exist_ok=True)
        for k, net in enumerate(self.members_, 1):
            models.save(net, folder / f"member{k}")
        return models.save(self.network_, folder / "classifier", kind="classifier", **meta)

    @classmethod
    def load(cls, folder: str | Path) -> SeriesClassifier:
        """The classifier ``save`` wrote into ``folder`` (its ``classifier.json``, or its one config)."""
        folder = Path(folder)
        config = folder / "classifier.json" if (folder / "classifier.json").exists() else folder
        network, meta = models.load(config), weights.config(config)
        clf = cls(**meta.get("estimator", {}))
        clf.network_ = network
        clf.classes_ = np.asarray(meta["classes"])
        clf.standardiser_ = Standardiser(meta["mean"], meta["std"])
        clf.periods_ = list(network.config.periods)
        clf.n_channels_, clf.seq_len_ = network.config.n_channels, network.config.seq_len
        clf.best_epoch_ = meta.get("selected_epoch")
        clf.members_ = [models.load(folder / f"member{k}.json") for k in range(1, meta.get("members", 0) + 1)]
        return clf


def _labels(y, name: str) -> np.ndarray:
    """Class labels as a 1-D array, checked as scikit-learn checks them (no None, NaN, infinity or
    continuous values; a column vector is accepted with a warning)."""
    if y is None:
        raise ValueError(f"{name} requires y to be passed, but the target y is None")
    y = column_or_1d(y, warn=True)
    y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
    check_classification_targets(y)
    return y


@torch.no_grad()
def _evaluate(net, X: torch.Tensor, mask: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(number correct, summed cross-entropy) of ``net`` on a held-out part."""
    net.eval()
    logits = torch.cat([net(X[i : i + 256], mask[i : i + 256]) for i in range(0, len(y), 256)])
    return (logits.argmax(1) == y).sum().item(), F.cross_entropy(logits, y, reduction="sum").item()
