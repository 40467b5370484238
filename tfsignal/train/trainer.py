"""The training loop: one optimiser loop for recipes and estimators, budgeted in steps or minutes.

:class:`Trainer` minimises ``loss_fn(model, batch)`` (a tensor, or a dict of tensors whose
``"total"`` is minimised and whose other terms are logged) with AdamW, or an optimiser it is
given, until the budget is spent: ``steps`` optimiser steps or ``minutes`` of training, whichever
comes first. Each parameter group's learning rate is its peak times ``schedule(step, progress)``,
``progress`` being the share of the budget spent (:mod:`tfsignal.train.schedules`), so a run ended
by its time budget still completes its schedule. ``max_minutes`` is different: it stops one run
cleanly (with a checkpoint) without touching the schedule, and the next run resumes.

``data`` is a torch ``Dataset`` (the trainer draws seeded, shuffled batches of ``batch_size``, each
process its share under DDP) or a function ``epoch -> iterable of batches``: an estimator's own
sampler, which may be endless.

Validation: ``val_fn(model) -> dict`` runs every ``val_every`` steps and when training ends, on
rank 0, on the bare model in eval mode without gradients. The best result by ``best_metric``
(``best_mode`` "max" or "min"; a tuple compares item by item) is written once per improvement with
its metadata (``best.safetensors`` + ``best.json`` in ``out_dir``, loadable with
``tfsignal.models.load``, or ``best_path``), and with ``restore_best`` kept in memory and loaded
back into the model when training ends. ``patience`` stops training after that many validations
without improvement.

Files in ``out_dir`` (None: nothing is written): ``last.pt`` (model, optimiser, step and minutes
spent; resumed from automatically), the best weights and ``log.jsonl`` (one JSON object per log or
validation event).

Launch a script that calls :meth:`Trainer.fit` with ``python script.py`` for one process or with
``torchrun --nproc_per_node N script.py`` for data-parallel training (gloo on CPU, nccl on CUDA);
the trainer reads torchrun's environment variables itself.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler
from tqdm.auto import tqdm

from tfsignal import weights
from tfsignal.models import load, save
from tfsignal.train.schedules import warmup_cosine_steps

LossFn = Callable[[nn.Module, object], "torch.Tensor | dict[str, torch.Tensor]"]
Schedule = Callable[[int, float], float]


@dataclass
class TrainConfig:
    out_dir: str | None = "runs/train"  # None: no checkpoint, log or best file (estimators)
    steps: int | None = 10000  # step budget (None: the time budget alone)
    minutes: float | None = None  # time budget, summed over resumed runs; the schedule spans it
    max_minutes: float = math.inf  # stop this run cleanly after this wall time (resume continues)
    batch_size: int = 4
    lr: float = 5e-4
    betas: tuple[float, float] = (0.8, 0.99)  # MP-SENet / MambAttention
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1  # cosine decay from lr to lr * min_lr_ratio
    grad_clip: float | None = 5.0  # None: gradients are not clipped
    num_workers: int = 0
    log_every: int = 25
    val_every: int = 250
    save_every: int = 250
    seed: int | None = 0  # None: torch's generator is left as the caller seeded it
    # Validation metric for the best weights (its name in the dict val_fn returns), and whether
    # larger ("max") or smaller ("min") is better.
    best_metric: str = "pesq"
    best_mode: str = "max"
    best_path: str | None = None  # where the best weights go (default: out_dir/best)
    restore_best: bool = False  # keep the best weights in memory and end training with them
    patience: int | None = None  # stop after this many validations without a better best_metric
    distributed: bool = True  # False: one process even under torchrun (an estimator inside a script)
    progress_bar: bool = True
    desc: str = "train"  # the progress bar's label
    leave: bool = True  # keep the progress bar on screen when training ends

    @classmethod
    def in_process(cls, **fields) -> TrainConfig:
        """A config for training as one part of other work (an estimator's ``fit``, a recipe's stage):
        no files, torch's generator left as the caller seeded it, one process even under torchrun,
        and PyTorch's usual AdamW betas (0.9, 0.999); ``fields`` set the rest."""
        return cls(**{"out_dir": None, "seed": None, "distributed": False, "betas": (0.9, 0.999), **fields})


def _distributed() -> tuple[int, int]:
    """(rank, world size), starting the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def process_device(device: str | torch.device) -> torch.device:
    """``device``, made this process's own GPU (torchrun's LOCAL_RANK) when it is CUDA."""
    device = torch.device(device)
    if device.type == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def _to_device(batch, device: torch.device):
    """``batch`` with every tensor in it (also inside lists, tuples and dicts) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(item, device) for item in batch)
    if isinstance(batch, dict):
        return {key: _to_device(value, device) for key, value in batch.items()}
    return batch


class Trainer:
    """Train ``model`` on ``data`` by minimising ``loss_fn(model, batch)``; see the module docstring.

    ``stateful`` names further objects with ``state_dict`` and ``load_state_dict`` that the loss
    trains (a metric discriminator): they are saved in ``last.pt`` and restored on resume when the
    checkpoint has them. ``optimizer`` replaces the default AdamW (the peak learning rate of each of
    its parameter groups is the one it was built with, kept in ``base_lrs``); ``schedule`` replaces
    the default warm-up + cosine of ``config`` (:func:`~tfsignal.train.schedules.warmup_cosine_steps`).
    ``best_meta(metrics) -> dict`` is the metadata written beside the best weights (default: the
    step and the validation metrics).

    While training, ``step`` counts the optimiser steps taken, ``minutes`` the training time spent
    over all runs of ``out_dir`` (resumed ones included), ``progress`` is the share of the
    budget spent when the current step began (what the schedule got), ``loss_curve`` holds this
    run's total loss per step, and ``best``, ``best_step`` and ``best_metrics`` describe the best
    validation so far.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        data: Dataset | Callable[[int], Iterable],
        config: TrainConfig,
        val_fn: Callable[[nn.Module], dict] | None = None,
        device: str | torch.device = "cpu",
        stateful: dict[str, object] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        schedule: Schedule | None = None,
        best_meta: Callable[[dict], dict] | None = None,
    ) -> None:
        if config.steps is None and config.minutes is None:
            raise ValueError("give a training budget: steps, minutes or both")
        if config.best_mode not in ("max", "min"):
            raise ValueError(f"best_mode must be 'max' or 'min', got {config.best_mode!r}")
        self.config = config
        self.rank, self.world = _distributed() if config.distributed else (0, 1)
        self.device = process_device(device) if config.distributed else torch.device(device)
        if config.seed is not None:
            torch.manual_seed(config.seed)
        self.model = model.to(self.device)
        self.net = nn.parallel.DistributedDataParallel(model) if self.world > 1 else model
        self.loss_fn, self.val_fn, self.data = loss_fn, val_fn, data
        self.stateful = dict(stateful or {})
        self.optimizer = optimizer or torch.optim.AdamW(
            model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
        self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        self.schedule = schedule or self.default_schedule
        self.best_meta = best_meta or (lambda metrics: {"step": self.step, "val": metrics})
        self.step, self.progress, self.minutes_before, self.minutes = 0, 0.0, 0.0, 0.0
        self.loss_curve: list[float] = []
        self.best = -math.inf if config.best_mode == "max" else math.inf
        self.best_step: int | None = None
        self.best_metrics: dict | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stale = 0  # validations since the best
        self.out_dir = None if config.out_dir is None else Path(config.out_dir)
        if self.rank == 0 and self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)

    def default_schedule(self, step: int, progress: float) -> float:
        """Warm-up over ``warmup_steps``, then cosine decay to ``min_lr_ratio`` (of ``config``)."""
        cfg = self.config
        return warmup_cosine_steps(step, progress, cfg.warmup_steps, cfg.min_lr_ratio, cfg.steps)

    # ------------------------------------------------------------------------- checkpoints and logs

    def save_checkpoint(self, minutes: float) -> None:
        """``out_dir/last.pt``, written atomically; ``minutes`` is the training time spent so far."""
        if self.rank != 0 or self.out_dir is None:
            return
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "minutes": minutes,
            "best": self.best,
            "best_step": self.best_step,
            "stale": self.stale,
            "stateful": {name: obj.state_dict() for name, obj in self.stateful.items()},
        }
        tmp = self.out_dir / "last.pt.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.out_dir / "last.pt")

    def resume(self) -> bool:
        """Load ``out_dir/last.pt`` if it exists; True when training resumes from it."""
        path = None if self.out_dir is None else self.out_dir / "last.pt"
        if path is None or not path.exists():
            return False
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.best = int(state["step"]), state["best"]
        self.minutes_before = float(state.get("minutes", 0.0))
        self.best_step = state.get("best_step", self.step if self.best not in (math.inf, -math.inf) else None)
        self.stale = int(state.get("stale", 0))
        for name, obj in self.stateful.items():
            if name in state.get("stateful", {}):
                obj.load_state_dict(state["stateful"][name])
        return True

    def log(self, record: dict) -> None:
        if self.rank == 0 and self.out_dir is not None:
            with open(self.out_dir / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    # ----------------------------------------------------------------------- validation and the best

    def _improves(self, score) -> bool:
        if score is None or (isinstance(score, float) and math.isnan(score)):
            return False
        if self.best_step is None:
            return True
        return score > self.best if self.config.best_mode == "max" else score < self.best

    def _keep_best(self, metrics: dict) -> None:
        cfg = self.config
        path = cfg.best_path or (None if self.out_dir is None else self.out_dir / "best")
        if path is not None:
            save(self.model, path, **self.best_meta(metrics))
        if cfg.restore_best:
            self.best_state = {name: value.detach().clone() for name, value in self.model.state_dict().items()}

    def validate(self) -> dict | None:
        """Run ``val_fn`` (rank 0), log it and keep the weights when they are the best so far."""
        if self.val_fn is None or self.rank != 0:
            return None
        self.model.eval()
        with torch.no_grad():
            metrics = self.val_fn(self.model)
        self.model.train()
        self.log({"step": self.step, "val": metrics})
        score = metrics.get(self.config.best_metric)
        if self._improves(score):
            self.best, self.best_step, self.best_metrics, self.stale = score, self.step, metrics, 0
            self._keep_best(metrics)
        else:
            self.stale += 1
        return metrics

    def _agree(self, flag: bool) -> bool:
        """Rank 0's ``flag``, on every process."""
        if self.world == 1:
            return flag
        value = torch.tensor([float(flag)], device=self.device)
        dist.broadcast(value, 0)
        return bool(value.item())

    # ------------------------------------------------------------------------------------ the batches

    def _batches_per_epoch(self) -> int:
        per_rank = math.ceil(len(self.data) / self.world)  # DistributedSampler pads to equal shares
        return max(1, per_rank // self.config.batch_size)

    def _loader(self, epoch: int, skip: int = 0) -> DataLoader:
        """Batches of ``epoch`` in their seeded order, the first ``skip`` left out (where a resumed run
        stopped), so a run resumed from a checkpoint sees the same batches as one that never stopped."""
        cfg, seed = self.config, self.config.seed or 0
        if hasattr(self.data, "set_epoch"):  # on-the-fly datasets draw new mixtures every epoch
            self.data.set_epoch(epoch)
        if self.world > 1:
            sampler = DistributedSampler(self.data, self.world, self.rank, shuffle=True, seed=seed)
            sampler.set_epoch(epoch)
        else:
            sampler = RandomSampler(self.data, generator=torch.Generator().manual_seed(seed + epoch))
        if skip:  # only a resumed run's first epoch needs its order written out
            sampler = list(sampler)[skip * cfg.batch_size :]
        return DataLoader(self.data, cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers, drop_last=True)

    def _batches(self) -> Iterator:
        """Every batch from where the run stands, epoch after epoch; a resumed run continues the
        order of an unbroken one."""
        if isinstance(self.data, Dataset):
            epoch, skip = divmod(self.step, self._batches_per_epoch())
            epochs = (self._loader(e, skip if e == epoch else 0) for e in itertools.count(epoch))
            start = 0
        else:
            epochs, start = (self.data(e) for e in itertools.count()), self.step
        batches = self._chain(epochs)
        return itertools.islice(batches, start, None)

    @staticmethod
    def _chain(epochs: Iterator[Iterable]) -> Iterator:
        for batches in epochs:
            empty = True
            for batch in batches:
                empty = False
                yield batch
            if empty:
                raise ValueError("an epoch gave no batch: fewer items than batch_size, or an empty sampler")

    # ------------------------------------------------------------------------------------- the loop

    def _minutes(self, started: float) -> tuple[float, float]:
        """(training minutes spent over all runs, this run's minutes), the same on every process."""
        run = (time.monotonic() - started) / 60
        if self.world > 1 and (self.config.minutes or math.isfinite(self.config.max_minutes)):
            value = torch.tensor([run], device=self.device, dtype=torch.float64)
            dist.all_reduce(value, dist.ReduceOp.MAX)  # processes whose clocks differ still stop together
            run = float(value.item())
        return self.minutes_before + run, run

    def _progress(self, minutes: float) -> float:
        """The share of the budget spent after ``minutes`` of training (an empty budget is spent)."""
        cfg = self.config
        by_steps = 0.0 if cfg.steps is None else self.step / cfg.steps if cfg.steps > 0 else 1.0
        by_time = 0.0 if cfg.minutes is None else minutes / cfg.minutes if cfg.minutes > 0 else 1.0
        return max(by_steps, by_time)

    def fit(self) -> dict | None:
        """Train until the budget is spent (resuming from ``last.pt``), ``max_minutes`` pass or
        ``patience`` runs out; returns the last validation metrics."""
        cfg = self.config
        if self.resume():
            self.log({"step": self.step, "event": "resumed"})
        self.log({"step": self.step, "event": "start", "world": self.world, "config": asdict(cfg)})
        started = time.monotonic()
        self.minutes = self.minutes_before
        self.progress = self._progress(self.minutes_before)
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            disable=self.rank != 0 or not cfg.progress_bar,
            desc=cfg.desc,
            unit="step",
            leave=cfg.leave,
            mininterval=1.0,
        )
        self.model.train()
        batches = self._batches()
        running, metrics, done = {}, None, self.progress >= 1
        while not done:
            batch = _to_device(next(batches), self.device)
            multiplier = self.schedule(self.step, self.progress)
            for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
                group["lr"] = base_lr * multiplier
            terms = self.loss_fn(self.net, batch)
            if isinstance(terms, torch.Tensor):
                terms = {"total": terms}
            self.optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            if cfg.grad_clip is None:
                self.optimizer.step()
            else:
                norm = nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                if torch.isfinite(norm):  # skip a step whose gradient blew up rather than corrupt the weights
                    self.optimizer.step()
            self.step += 1
            bar.update(1)
            for name, value in terms.items():  # NaN (a term with nothing to measure) is left out
                value, (total, count) = float(value.detach()), running.get(name, (0.0, 0))
                running[name] = (total + value, count + 1) if math.isfinite(value) else (total, count)
                if name == "total":
                    self.loss_curve.append(value)
            if self.step % cfg.log_every == 0:
                means = {k: total / count for k, (total, count) in running.items() if count}
                bar.set_postfix(loss=f"{means.get('total', math.nan):.4g}", refresh=False)
                self.log({"step": self.step, "lr": self.optimizer.param_groups[0]["lr"], "train": means})
                running = {}
            minutes, run_minutes = self._minutes(started)
            self.minutes, self.progress = minutes, self._progress(minutes)
            done = self.progress >= 1 or run_minutes > cfg.max_minutes
            if self.step % cfg.val_every == 0 or done:
                metrics = self.validate() or metrics
                if cfg.patience is not None:
                    done = self._agree(done or self.stale >= cfg.patience)
            if self.step % cfg.save_every == 0 or done:
                self.save_checkpoint(minutes)
        bar.close()
        if cfg.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        if self.world > 1:
            dist.barrier()
        return metrics


def trainer_from_args(
    model: nn.Module,
    loss_fn: LossFn,
    dataset: Dataset,
    args,
    val_fn: Callable[[nn.Module], dict] | None = None,
    device: str = "cpu",
    best_metric: str = "pesq",
    stateful: dict | None = None,
) -> Trainer:
    """A :class:`Trainer` configured from a recipe's parsed flags: ``out``, ``steps``, ``batch_size``,
    ``lr``, ``val_every`` (also the checkpoint interval), ``num_workers``, ``seed``, ``max_minutes`` and,
    where the recipe has it, ``minutes`` (a time budget the schedule spans); it keeps the weights with
    the best validation ``best_metric``."""
    config = TrainConfig(
        out_dir=args.out,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        val_every=args.val_every,
        save_every=args.val_every,
        num_workers=args.num_workers,
        seed=args.seed,
        max_minutes=args.max_minutes,
        minutes=getattr(args, "minutes", None),
        best_metric=best_metric,
    )
    return Trainer(model, loss_fn, dataset, config, val_fn=val_fn, device=device, stateful=stateful or {})


def fit_summary(trainer: Trainer, model: nn.Module, metrics: dict, started: float) -> dict:
    """What a recipe prints after :meth:`Trainer.fit`: parameters, steps run, the best validation score
    (``best_<metric>``), the last validation scores and the minutes since ``started`` (``time.time()``)."""
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "steps": trainer.step,
        f"best_{trainer.config.best_metric}": trainer.best,
        "last_val": metrics,
        "minutes": round((time.time() - started) / 60, 1),
    }


def training_card(previous: dict | None, leg: dict) -> dict:
    """The ``training`` record of a model card after one more leg: the legs of ``previous`` (the
    record of the weights the leg started from, None for a fresh model) plus ``leg``, a dict with at
    least ``steps``, ``minutes`` and ``audio_hours``, and their totals over every leg, so weights
    trained across sessions say how much training and audio made them."""
    legs = [*(previous or {}).get("legs", []), leg]
    return {
        "legs": legs,
        "total": {
            "steps": sum(int(item["steps"]) for item in legs),
            "minutes": round(sum(float(item["minutes"]) for item in legs), 2),
            "audio_hours_seen": round(sum(float(item["audio_hours"]) for item in legs), 4),
        },
    }


def save_with_card(
    trainer: Trainer,
    model: nn.Module,
    args,
    metrics: dict,
    data: dict,
    command: str,
    loss: str,
    flags: Iterable[str] = ("steps", "minutes", "batch_size", "segment_seconds", "lr", "seed"),
) -> dict:
    """After a recipe's :meth:`Trainer.fit`: write ``OUT/last.*`` (the weights the run ended with,
    the point to continue from with ``--init``) with a model card, add the card to the trainer's
    ``OUT/best.json``, and return the card.

    The card holds ``data`` (what the model was trained on), ``command`` and ``training``: the legs
    of ``args.init``'s card (none for a fresh model) plus this one (its steps, minutes, hours of
    audio, loss, ``flags`` and last validation scores) with their totals (:func:`training_card`)."""
    leg = {
        "out": str(args.out),
        "init": args.init,
        "steps": trainer.step,
        "minutes": round(trainer.minutes, 2),
        "world": trainer.world,
        "audio_hours": round(trainer.step * args.batch_size * trainer.world * args.segment_seconds / 3600, 6),
        "loss": loss,
        "flags": {k: getattr(args, k) for k in flags},
        "last_val": metrics,
        "command": command,
    }
    previous = weights.config(args.init).get("training") if args.init else None
    card = {"data": data, "command": command, "training": training_card(previous, leg)}
    out = Path(args.out)
    save(model, out / "last", step=trainer.step, val=metrics, **card)
    if (out / "best.json").exists():
        meta = {k: v for k, v in weights.config(out / "best").items() if k not in ("kind", "model", "config")}
        save(load(out / "best"), out / "best", **{**meta, **card})
    return card
