"""A small transformer that classifies epochs from their tokens (TFM-Tokenizer's downstream model).

Each token (n_channels x n_tokens per epoch) is embedded (optionally initialised from the
tokenizer's codebook), a channel embedding and a sinusoidal time position are added, a CLS token is
prepended and a few pre-norm transformer layers read the whole epoch; the CLS output is classified.
TFM-Tokenizer's published head is 64-d, 4 layers, 8 heads; the defaults here are smaller because
the shared EEG sets hold a few hundred epochs.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted
from torch import Tensor, nn

from tfsignal.nn.attention import MultiHeadAttention
from tfsignal.train.schedules import constant
from tfsignal.train.trainer import TrainConfig, Trainer


class _Layer(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = MultiHeadAttention(dim, heads, dropout)
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attention(self.norm1(x))
        return x + F.dropout(self.ffn(self.norm2(x)), self.attention.dropout, self.training)


class TokenTransformer(nn.Module):
    def __init__(self, n_codes: int, n_classes: int, dim: int, depth: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.token = nn.Embedding(n_codes, dim)
        self.channel = nn.Embedding(512, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.layers = nn.Sequential(*[_Layer(dim, heads, dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_classes)

    def positions(self, length: int, dim: int) -> Tensor:
        t = torch.arange(length, dtype=torch.float32)[:, None]
        freqs = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
        return torch.cat([torch.sin(t * freqs), torch.cos(t * freqs)], dim=-1)[:, :dim]  # (T, dim)

    def forward(self, tokens: Tensor) -> Tensor:  # (B, C, T) -> (B, n_classes)
        batch, channels, length = tokens.shape
        dim = self.token.embedding_dim
        x = self.token(tokens) + self.channel.weight[:channels, None] + self.positions(length, dim).to(tokens.device)
        x = torch.cat([self.cls.expand(batch, 1, dim), x.reshape(batch, channels * length, dim)], dim=1)
        return self.head(self.norm(self.layers(x))[:, 0])


class TokenTransformerClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn classifier on integer tokens (n_epochs, n_channels, n_tokens).

    ``codebook`` (n_codes, dim) initialises the token embedding (TFM-Tokenizer does this with its VQ
    codebook; pass ``tokenizer.network_.quantizer.codebook``); otherwise ``n_codes`` must be given.
    """

    def __init__(
        self,
        n_codes: int | None = None,
        codebook=None,
        dim: int = 32,
        depth: int = 2,
        heads: int = 4,
        dropout: float = 0.2,
        epochs: int = 40,
        batch_size: int = 16,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        random_state: int = 0,
    ) -> None:
        self.n_codes, self.codebook, self.dim, self.depth, self.heads = n_codes, codebook, dim, depth, heads
        self.dropout, self.epochs, self.batch_size, self.lr = dropout, epochs, batch_size, lr
        self.weight_decay, self.random_state = weight_decay, random_state

    def fit(self, X, y):
        tokens = torch.as_tensor(np.asarray(X), dtype=torch.long)
        if tokens.ndim != 3:
            raise ValueError(f"expected tokens (n_epochs, n_channels, n_tokens), got shape {tuple(tokens.shape)}")
        self.classes_, labels = np.unique(np.asarray(y), return_inverse=True)
        torch.manual_seed(self.random_state)
        codebook = None if self.codebook is None else torch.as_tensor(np.asarray(self.codebook), dtype=torch.float32)
        n_codes = len(codebook) if codebook is not None else self.n_codes
        if n_codes is None:
            raise ValueError("give n_codes or codebook")
        dim = codebook.shape[1] if codebook is not None else self.dim
        self.network_ = TokenTransformer(n_codes, len(self.classes_), dim, self.depth, self.heads, self.dropout)
        if codebook is not None:
            with torch.no_grad():
                self.network_.token.weight.copy_(codebook)
        labels = torch.as_tensor(labels)
        generator = torch.Generator().manual_seed(self.random_state)

        def batches(epoch: int):  # the epochs in shuffled mini-batches of (tokens, labels)
            for batch in torch.randperm(len(tokens), generator=generator).split(self.batch_size):
                yield tokens[batch], labels[batch]

        config = TrainConfig.in_process(
            steps=self.epochs * math.ceil(len(tokens) / self.batch_size),
            lr=self.lr,
            weight_decay=self.weight_decay,
            grad_clip=None,
            progress_bar=False,
        )
        loss_fn = lambda network, batch: F.cross_entropy(network(batch[0]), batch[1])  # noqa: E731
        Trainer(self.network_, loss_fn, batches, config, schedule=constant).fit()
        self.network_.eval()
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        tokens = torch.as_tensor(np.asarray(X), dtype=torch.long)
        with torch.inference_mode():
            return torch.cat([self.network_(b).softmax(-1) for b in tokens.split(64)]).numpy()

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]
