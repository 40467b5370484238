"""Learning-rate schedules, as multipliers of a peak learning rate.

A schedule of :class:`~tfsignal.train.trainer.Trainer` is a function ``(step, progress) -> multiplier``:
``step`` counts the optimiser steps taken before this one and ``progress`` is the share of the
training budget spent, from 0 to 1 (steps done over the step budget or minutes spent over the time
budget, whichever is further along). A schedule that decays by ``progress`` therefore ends where
the budget ends, whether steps or minutes run out first.

- :func:`linear_warmup` and :func:`cosine_decay` are the two pieces (their product is a warm-up
  ramp laid over a cosine that spans the whole budget).
- :func:`warmup_cosine`: warm-up over a share of the budget, then cosine decay over the rest.
- :func:`warmup_cosine_steps`: warm-up over a number of optimiser steps (the same count whatever
  the budget), then cosine decay.
- :func:`constant`: the peak throughout.
- :class:`Plateau`: lower a learning rate when a monitored loss stops improving (set between
  epochs, for estimators that train by epochs).
"""

from __future__ import annotations

import math

__all__ = ["linear_warmup", "cosine_decay", "warmup_cosine", "warmup_cosine_steps", "constant", "Plateau"]


def linear_warmup(done: float, length: float) -> float:
    """Ramp from 0 to 1 as ``done`` goes from 0 to ``length`` (steps, or shares of the budget), then 1;
    always 1 when ``length`` is 0."""
    return 1.0 if length <= 0 else min(1.0, done / length)


def cosine_decay(progress: float, min_ratio: float = 0.0, start: float = 0.0) -> float:
    """1 until ``progress`` reaches ``start``, then half a cosine down to ``min_ratio`` at progress 1."""
    if progress <= start:
        return 1.0
    decay = 1.0 if progress >= 1 else (progress - start) / (1.0 - start)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * decay))


def warmup_cosine(progress: float, warmup: float = 0.05, min_ratio: float = 0.0) -> float:
    """Linear warm-up over the first ``warmup`` share of the budget, then cosine decay from 1 to
    ``min_ratio`` over the rest."""
    if progress < warmup:
        return progress / warmup
    return cosine_decay(progress, min_ratio, start=warmup)


def warmup_cosine_steps(
    step: int, progress: float, warmup_steps: int, min_ratio: float = 0.0, steps: int | None = None
) -> float:
    """Linear warm-up over the first ``warmup_steps`` optimiser steps, then cosine decay to ``min_ratio``.

    Step ``step`` runs at ``(step + 1) / warmup_steps`` of the peak, so the first step already moves
    the weights. The cosine spans the budget from where the warm-up ends in a budget of ``steps``
    steps (its share ``warmup_steps / steps``), or the whole budget without a step budget (its
    first, warm-up part left out then).
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return cosine_decay(progress, min_ratio, start=warmup_steps / steps if steps else 0.0)


def constant(step: int, progress: float) -> float:
    """The peak learning rate throughout (or whatever a :class:`Plateau` set it to)."""
    return 1.0


class Plateau:
    """A learning rate lowered by ``factor`` whenever a monitored loss has not improved on its best
    (by the relative ``threshold``) for more than ``patience`` checks in a row, never below
    ``min_lr``; the rule of PyTorch's ``ReduceLROnPlateau`` in "min" mode, for one learning rate.

    ``step(loss)`` takes the loss of one check (one epoch, say) and returns the learning rate to use.
    """

    def __init__(
        self, lr: float, factor: float = 0.1, patience: int = 10, min_lr: float = 0.0, threshold: float = 1e-4
    ) -> None:
        if not 0 < factor < 1:
            raise ValueError(f"factor must lie in (0, 1), got {factor}")
        self.lr, self.factor, self.patience, self.min_lr, self.threshold = lr, factor, patience, min_lr, threshold
        self.best = math.inf
        self.bad_checks = 0

    def step(self, loss: float) -> float:
        if loss < self.best * (1 - self.threshold):
            self.best, self.bad_checks = loss, 0
        else:
            self.bad_checks += 1
        if self.bad_checks > self.patience:
            lowered = max(self.lr * self.factor, self.min_lr)
            if self.lr - lowered > 1e-8:  # a change too small to matter is left out
                self.lr = lowered
            self.bad_checks = 0
        return self.lr
