"""A small step-based trainer: AdamW, gradient clipping, validation, checkpoint/resume, DDP via torchrun.

Launch a script that calls :meth:`Trainer.fit` with ``python script.py`` for one process or with
``torchrun --nproc_per_node N script.py`` for data-parallel training (gloo on CPU, nccl on CUDA);
the trainer reads torchrun's environment variables itself.

Files in ``out_dir``: ``last.pt`` (model, optimiser and step; resumed from automatically),
``best.safetensors`` + ``best.json`` (the weights with the best validation score, loadable with
``tfsignal.models.load``) and ``log.jsonl`` (one JSON object per log or validation event).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler
from tqdm import tqdm

from tfsignal.models import save


@dataclass
class TrainConfig:
    out_dir: str = "runs/train"
    steps: int = 10000
    batch_size: int = 4
    lr: float = 5e-4
    betas: tuple[float, float] = (0.8, 0.99)  # MP-SENet / MambAttention
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1  # cosine decay from lr to lr * min_lr_ratio
    grad_clip: float = 5.0
    num_workers: int = 0
    log_every: int = 25
    val_every: int = 250
    save_every: int = 250
    seed: int = 0
    # Validation metric to maximise for best.safetensors (its name in the dict val_fn returns).
    best_metric: str = "pesq"
    max_minutes: float = math.inf  # stop cleanly (with a checkpoint) after this much wall time


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


class Trainer:
    """Train ``model`` on ``dataset`` by minimising ``loss_fn(model, batch)["total"]``.

    ``val_fn(model) -> dict[str, float]`` runs on rank 0 every ``val_every`` steps on the bare
    (unwrapped) model in eval mode. ``stateful`` names further objects with ``state_dict`` and
    ``load_state_dict`` that the loss trains (a metric discriminator): they are saved in ``last.pt``
    and restored on resume when the checkpoint has them.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[nn.Module, object], dict[str, torch.Tensor]],
        dataset: Dataset,
        config: TrainConfig,
        val_fn: Callable[[nn.Module], dict[str, float]] | None = None,
        device: str = "cpu",
        stateful: dict[str, object] | None = None,
    ) -> None:
        self.config = config
        self.rank, self.world = _distributed()
        self.device = process_device(device)
        torch.manual_seed(config.seed)
        self.model = model.to(self.device)
        self.net = nn.parallel.DistributedDataParallel(model) if self.world > 1 else model
        self.loss_fn, self.val_fn, self.dataset = loss_fn, val_fn, dataset
        self.stateful = dict(stateful or {})
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
        self.step = 0
        self.best = -math.inf
        self.out_dir = Path(config.out_dir)
        if self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ schedule and checkpoints

    def lr_at(self, step: int) -> float:
        cfg = self.config
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
        return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))

    def save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "best": self.best,
            "stateful": {name: obj.state_dict() for name, obj in self.stateful.items()},
        }
        tmp = self.out_dir / "last.pt.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.out_dir / "last.pt")

    def resume(self) -> bool:
        """Load ``out_dir/last.pt`` if it exists; True when training resumes from it."""
        path = self.out_dir / "last.pt"
        if not path.exists():
            return False
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.best = int(state["step"]), float(state["best"])
        for name, obj in self.stateful.items():
            if name in state.get("stateful", {}):
                obj.load_state_dict(state["stateful"][name])
        return True

    def log(self, record: dict) -> None:
        if self.rank == 0:
            with open(self.out_dir / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    def validate(self) -> dict[str, float] | None:
        if self.val_fn is None or self.rank != 0:
            return None
        self.model.eval()
        with torch.no_grad():
            metrics = self.val_fn(self.model)
        self.model.train()
        self.log({"step": self.step, "val": metrics})
        score = metrics.get(self.config.best_metric, -math.inf)
        if score > self.best:
            self.best = score
            save(self.model, self.out_dir / "best", step=self.step, val=metrics)
        return metrics

    # ------------------------------------------------------------------------------ the loop

    def _batches_per_epoch(self) -> int:
        per_rank = math.ceil(len(self.dataset) / self.world)  # DistributedSampler pads to equal shares
        return max(1, per_rank // self.config.batch_size)

    def _loader(self, epoch: int, skip: int = 0) -> DataLoader:
        """Batches of ``epoch`` in their seeded order, the first ``skip`` left out (where a resumed run
        stopped), so a run resumed from a checkpoint sees the same batches as one that never stopped."""
        cfg = self.config
        if hasattr(self.dataset, "set_epoch"):  # on-the-fly datasets draw new mixtures every epoch
            self.dataset.set_epoch(epoch)
        if self.world > 1:
            sampler = DistributedSampler(self.dataset, self.world, self.rank, shuffle=True, seed=cfg.seed)
            sampler.set_epoch(epoch)
        else:
            sampler = RandomSampler(self.dataset, generator=torch.Generator().manual_seed(cfg.seed + epoch))
        if skip:  # only a resumed run's first epoch needs its order written out
            sampler = list(sampler)[skip * cfg.batch_size :]
        return DataLoader(self.dataset, cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers, drop_last=True)

    def fit(self) -> dict[str, float] | None:
        """Train until ``steps`` (resuming from ``last.pt``); returns the last validation metrics."""
        cfg = self.config
        if self.resume():
            self.log({"step": self.step, "event": "resumed"})
        if self.rank == 0:
            self.log({"step": self.step, "event": "start", "world": self.world, "config": asdict(cfg)})
        started = time.monotonic()
        bar = tqdm(total=cfg.steps, initial=self.step, disable=self.rank != 0, desc="train", unit="step")
        self.model.train()
        epoch, skip = divmod(self.step, self._batches_per_epoch())
        running, metrics = {}, None
        while self.step < cfg.steps:
            for batch in self._loader(epoch, skip):
                batch = [b.to(self.device) for b in batch]
                for group in self.optimizer.param_groups:
                    group["lr"] = self.lr_at(self.step)
                terms = self.loss_fn(self.net, batch)
                self.optimizer.zero_grad(set_to_none=True)
                terms["total"].backward()
                norm = nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                if torch.isfinite(norm):  # skip a step whose gradient blew up rather than corrupt the weights
                    self.optimizer.step()
                self.step += 1
                bar.update(1)
                for name, value in terms.items():  # NaN (a term with nothing to measure) is left out
                    value, (total, count) = float(value.detach()), running.get(name, (0.0, 0))
                    running[name] = (total + value, count + 1) if math.isfinite(value) else (total, count)
                if self.step % cfg.log_every == 0:
                    means = {k: total / count for k, (total, count) in running.items() if count}
                    bar.set_postfix(loss=f"{means.get('total', math.nan):.3f}")
                    self.log({"step": self.step, "lr": self.lr_at(self.step), "train": means})
                    running = {}
                timed_out = (time.monotonic() - started) / 60 > cfg.max_minutes
                last = self.step >= cfg.steps or timed_out
                if self.step % cfg.val_every == 0 or last:
                    metrics = self.validate() or metrics
                if self.step % cfg.save_every == 0 or last:
                    self.save_checkpoint()
                if last:
                    break
            epoch, skip = epoch + 1, 0
            if (time.monotonic() - started) / 60 > cfg.max_minutes:
                break
        bar.close()
        if self.world > 1:
            dist.barrier()
        return metrics


def trainer_from_args(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, object], dict[str, torch.Tensor]],
    dataset: Dataset,
    args,
    val_fn: Callable[[nn.Module], dict[str, float]] | None = None,
    device: str = "cpu",
    best_metric: str = "pesq",
    stateful: dict | None = None,
) -> Trainer:
    """A :class:`Trainer` configured from a recipe's parsed flags: ``out``, ``steps``, ``batch_size``,
    ``lr``, ``val_every`` (also the checkpoint interval), ``num_workers``, ``seed`` and ``max_minutes``;
    it keeps the weights with the best validation ``best_metric``."""
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
