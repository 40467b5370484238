"""Vector quantiser with L2-normalised codes, EMA codebook updates and dead-code restarts.

The encoder output ``z`` and every code live on the unit sphere, so the nearest code is the one of
highest cosine similarity. The codebook is not trained by gradients: after each training batch
every code moves towards the (exponential moving) mean of the vectors assigned to it and is put
back on the sphere. A code that has gone unused for long (its EMA count under
``restart_threshold``) is restarted on a random encoder output of the current batch, which keeps
large codebooks in use. Gradients reach the encoder through the straight-through estimator plus the
commitment loss ``beta * |sg(q) - z|^2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class VectorQuantizer(nn.Module):
    def __init__(
        self,
        n_codes: int,
        dim: int,
        decay: float = 0.99,
        beta: float = 1.0,
        restart_threshold: float = 0.05,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if n_codes < 2:
            raise ValueError(f"n_codes must be at least 2, got {n_codes}")
        self.n_codes, self.dim, self.decay, self.beta = n_codes, dim, decay, beta
        self.restart_threshold, self.eps = restart_threshold, eps
        self.register_buffer("codebook", F.normalize(torch.randn(n_codes, dim), dim=-1))  # (K, D)
        # EMA count of assignments per code (starting at zero marks every code as dead, so the first
        # batch seeds the codebook with real encoder outputs) and EMA sum of the assigned vectors.
        self.register_buffer("counts", torch.zeros(n_codes))
        self.register_buffer("sums", torch.zeros(n_codes, dim))

    def codes(self, z: Tensor) -> Tensor:
        """Index of the nearest code for each vector of ``z`` (..., D), after L2 normalisation."""
        z = F.normalize(z, dim=-1)
        return (z @ self.codebook.t()).argmax(dim=-1)

    def lookup(self, indices: Tensor) -> Tensor:
        """Code vectors (..., D) of integer indices (...)."""
        return F.embedding(indices, self.codebook)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``z`` (..., D) -> (quantised (..., D) with straight-through gradient, indices (...), commitment loss)."""
        z = F.normalize(z, dim=-1)
        indices = (z @ self.codebook.t()).argmax(dim=-1)  # (...)
        if self.training:
            self._update(z.detach().reshape(-1, self.dim), indices.reshape(-1))
        q = self.lookup(indices)
        commitment = self.beta * F.mse_loss(z, q.detach())
        return z + (q - z).detach(), indices, commitment

    @torch.no_grad()
    def _update(self, z: Tensor, indices: Tensor) -> None:
        onehot = F.one_hot(indices, self.n_codes).type_as(z)  # (N, K)
        self.counts.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.sums.mul_(self.decay).add_(onehot.t() @ z, alpha=1 - self.decay)
        live = self.counts > self.eps
        self.codebook[live] = F.normalize(self.sums[live], dim=-1)
        self._restart(z)

    @torch.no_grad()
    def _restart(self, z: Tensor) -> None:
        dead = (self.counts < self.restart_threshold).nonzero().squeeze(1)
        if len(dead) == 0:
            return
        picks = torch.randint(len(z), (len(dead),), device=z.device)
        fresh = F.normalize(z[picks] + 0.01 * torch.randn_like(z[picks]), dim=-1)
        self.codebook[dead] = fresh
        self.sums[dead] = fresh * self.restart_threshold * 2
        self.counts[dead] = self.restart_threshold * 2
