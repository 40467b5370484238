"""Trainer: checkpoint and resume, best weights loadable, DDP with two gloo processes on CPU; budgets in steps
or minutes complete the schedule, a resumed run continues it, the best weights are written once or kept in
memory."""

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from tfsignal import models
from tfsignal.train import TrainConfig, Trainer, enhancement_loss, schedules
from tfsignal.train import trainer as trainer_module


def tiny_setup(out_dir, steps):
    torch.manual_seed(0)
    clean = torch.randn(6, 1600) * 0.1
    dataset = TensorDataset(clean + 0.05 * torch.randn(6, 1600), clean)
    model = models.create("mambattention-tiny", channels=8, n_blocks=1)

    def val_fn(m):
        return {"pesq": time.monotonic()}  # improves every time: best.* follows the latest

    config = TrainConfig(out_dir=str(out_dir), steps=steps, batch_size=2, val_every=2, save_every=2, log_every=1)
    loss = lambda net, batch: enhancement_loss(net, batch[0], batch[1])  # noqa: E731
    return Trainer(model, loss, dataset, config, val_fn=val_fn), model


def test_checkpoint_resume_and_best_weights(tmp_path):
    trainer, model = tiny_setup(tmp_path, steps=2)
    trainer.fit()
    assert trainer.step == 2
    saved = torch.load(tmp_path / "last.pt", weights_only=True)
    assert saved["step"] == 2

    trainer, model = tiny_setup(tmp_path, steps=4)
    assert trainer.resume()
    for name, value in model.state_dict().items():
        assert torch.equal(value, saved["model"][name]), name
    trainer.fit()
    assert trainer.step == 4
    events = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert any(e.get("event") == "resumed" and e["step"] == 2 for e in events)
    assert any("train" in e and "total" in e["train"] for e in events)
    best = models.load(tmp_path / "best.json")
    for name, value in best.state_dict().items():
        assert torch.equal(value, model.state_dict()[name]), name


def test_resumed_run_sees_the_batches_an_unbroken_run_would(tmp_path):
    # 6 items in batches of 2: 3 batches per epoch, so 5 steps cross into the second epoch. Stopping
    # at step 2 and resuming must not start the epoch over (that would replay batches 1-2).
    straight, straight_model = tiny_setup(tmp_path / "straight", steps=5)
    straight.fit()
    first, _ = tiny_setup(tmp_path / "broken", steps=2)  # in warm-up, the learning rate does not depend on steps
    first.fit()
    resumed, resumed_model = tiny_setup(tmp_path / "broken", steps=5)
    resumed.fit()
    assert resumed.step == straight.step == 5
    for name, value in resumed_model.state_dict().items():
        torch.testing.assert_close(value, straight_model.state_dict()[name], rtol=0, atol=1e-6, msg=name)


def test_ddp_two_gloo_processes_keep_replicas_identical(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    worker = Path(__file__).with_name("_ddp_train.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517"]
    result = subprocess.run([*cmd, str(worker), str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rank0, rank1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert torch.equal(rank0, rank1)
    start = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[0])
    assert start["world"] == 2
    assert torch.load(tmp_path / "last.pt", weights_only=True)["step"] == 3


# ------------------------------------------------------------------------------ budgets, schedule, best


class OneSecondPerReading:
    """Stands for the ``time`` module inside the trainer: each clock reading is one second after the last."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 1.0
        return self.now


def token_batches(epoch):
    """An estimator's own sampler: two fixed batches of tokens per epoch."""
    generator = torch.Generator().manual_seed(epoch)
    return [torch.randint(8, (4, 2, 17), generator=generator) for _ in range(2)]


def tiny_gpt(config, **kwargs):
    """A Trainer of a tiny MEG-GPT whose schedule records the (step, progress) it is asked for."""
    torch.manual_seed(0)
    model = models.create("meg-gpt-tiny", vocab_size=8, n_channels=2, context=16, dropout=0.0)
    asked = []

    def schedule(step, progress):
        asked.append((step, progress))
        return schedules.warmup_cosine(progress, warmup=0.2, min_ratio=0.1)

    loss = lambda net, batch: net.loss(batch)  # noqa: E731
    return Trainer(model, loss, token_batches, config, schedule=schedule, **kwargs), model, asked


@pytest.mark.parametrize("budget", ["steps", "minutes"])
def test_a_step_or_a_minutes_budget_completes_the_schedule(budget, monkeypatch):
    monkeypatch.setattr(trainer_module, "time", OneSecondPerReading())
    steps, minutes = (20, None) if budget == "steps" else (None, 0.5)  # 0.5 min: 30 one-second steps
    trainer, _, asked = tiny_gpt(TrainConfig(out_dir=None, steps=steps, minutes=minutes, progress_bar=False))
    trainer.fit()
    n = 20 if budget == "steps" else 30
    assert trainer.step == len(trainer.loss_curve) == n
    assert [step for step, _ in asked] == list(range(n))
    assert [progress for _, progress in asked] == pytest.approx([k / n for k in range(n)])
    assert trainer.progress == pytest.approx(1.0)  # the budget is spent, and the schedule is at its end
    last_lr = trainer.optimizer.param_groups[0]["lr"]
    assert last_lr == pytest.approx(5e-4 * schedules.warmup_cosine((n - 1) / n, 0.2, 0.1))
    assert last_lr < 5e-4 * 0.11


@pytest.mark.parametrize("budget", ["steps", "minutes"])
def test_a_resumed_run_continues_the_same_schedule(budget, tmp_path, monkeypatch):
    def config(out_dir, max_minutes=math.inf):
        steps, minutes = (20, None) if budget == "steps" else (None, 0.5)
        return TrainConfig(
            out_dir=str(out_dir), steps=steps, minutes=minutes, max_minutes=max_minutes, progress_bar=False
        )

    monkeypatch.setattr(trainer_module, "time", OneSecondPerReading())
    straight, straight_model, straight_asked = tiny_gpt(config(tmp_path / "straight"))
    straight.fit()
    monkeypatch.setattr(trainer_module, "time", OneSecondPerReading())
    first, _, first_asked = tiny_gpt(config(tmp_path / "broken", max_minutes=7.5 / 60))  # stops after 8 steps
    first.fit()
    assert first.step == 8 and first.progress < 1
    monkeypatch.setattr(trainer_module, "time", OneSecondPerReading())
    resumed, resumed_model, resumed_asked = tiny_gpt(config(tmp_path / "broken"))
    resumed.fit()
    assert resumed.step == straight.step
    assert [s for s, _ in first_asked + resumed_asked] == [s for s, _ in straight_asked]
    assert [p for _, p in first_asked + resumed_asked] == pytest.approx([p for _, p in straight_asked])
    for name, value in resumed_model.state_dict().items():
        torch.testing.assert_close(value, straight_model.state_dict()[name], rtol=0, atol=1e-6, msg=name)


def test_the_best_weights_are_written_once_with_their_metadata(tmp_path, monkeypatch):
    scores, snapshots, written = iter([3.0, 1.0, 2.0]), {}, []
    save = trainer_module.save

    def counting_save(model, path, **meta):
        written.append(path)
        return save(model, path, **meta)

    def val_fn(model):
        snapshots[trainer.step] = {k: v.clone() for k, v in model.state_dict().items()}
        return {"score": next(scores)}

    monkeypatch.setattr(trainer_module, "save", counting_save)
    config = TrainConfig(out_dir=str(tmp_path), steps=6, val_every=2, best_metric="score", progress_bar=False)
    meta = lambda metrics: {"step": trainer.step, "val": metrics, "data": "tokens"}  # noqa: E731
    trainer, model, _ = tiny_gpt(config, val_fn=val_fn, best_meta=meta)
    trainer.fit()
    assert written == [tmp_path / "best"]  # validations at steps 2, 4 and 6; only the first was the best
    saved = json.loads((tmp_path / "best.json").read_text())
    assert saved["step"] == 2 and saved["val"] == {"score": 3.0} and saved["data"] == "tokens"
    assert (trainer.best, trainer.best_step) == (3.0, 2)
    for name, value in models.load(tmp_path / "best.json").state_dict().items():
        assert torch.equal(value, snapshots[2][name]), name


def test_patience_stops_and_the_best_weights_kept_in_memory_come_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    losses, snapshots = iter([2.0, 1.0, 1.5, 1.2, 0.5]), {}

    def val_fn(model):
        snapshots[trainer.step] = {k: v.clone() for k, v in model.state_dict().items()}
        return {"loss": next(losses)}

    config = TrainConfig(
        out_dir=None, steps=100, val_every=1, best_metric="loss", best_mode="min", restore_best=True, patience=2
    )
    trainer, model, _ = tiny_gpt(config, val_fn=val_fn)
    trainer.fit()
    assert trainer.step == 4 and trainer.best_step == 2 and trainer.best_metrics["loss"] == 1.0
    for name, value in model.state_dict().items():
        assert torch.equal(value, snapshots[2][name]), name
    assert list(tmp_path.iterdir()) == []  # without out_dir nothing is written


def test_a_budget_is_required_and_an_empty_one_trains_nothing():
    with pytest.raises(ValueError, match="budget"):
        tiny_gpt(TrainConfig(out_dir=None, steps=None))
    trainer, _, asked = tiny_gpt(TrainConfig(out_dir=None, steps=0, progress_bar=False))
    assert trainer.fit() is None and trainer.step == 0 and asked == []


def test_schedules_warm_up_then_decay_to_their_floor():
    assert schedules.warmup_cosine(0.0, 0.1) == 0.0 and schedules.warmup_cosine(0.05, 0.1) == pytest.approx(0.5)
    assert schedules.warmup_cosine(0.1, 0.1, 0.2) == 1.0 and schedules.warmup_cosine(1.0, 0.1, 0.2) == 0.2
    # by steps: the first step already moves; the cosine starts where the warm-up ends in the step budget
    assert schedules.warmup_cosine_steps(0, 0.0, 10, 0.1, steps=100) == pytest.approx(0.1)
    assert schedules.warmup_cosine_steps(9, 0.09, 10, 0.1, steps=100) == 1.0
    assert schedules.warmup_cosine_steps(55, 0.55, 10, 0.1, steps=100) == pytest.approx(0.55)  # halfway down
    plateau = schedules.Plateau(1e-3, factor=0.5, patience=1, min_lr=3e-4)
    assert [plateau.step(loss) for loss in [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5]] == pytest.approx(
        [1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 3e-4, 3e-4, 3e-4]
    )
    # the same learning rates as PyTorch's ReduceLROnPlateau, which SeriesClassifier used before
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-3)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min", factor=0.5, patience=3, min_lr=1e-4)
    plateau = schedules.Plateau(1e-3, factor=0.5, patience=3, min_lr=1e-4)
    for loss in 1.0 / np.sqrt(np.arange(1, 200)) + 0.05 * np.random.default_rng(0).standard_normal(199):
        reference.step(loss)
        assert plateau.step(loss) == optimizer.param_groups[0]["lr"]
    assert plateau.lr == 1e-4  # lowered four times, down to min_lr


def test_the_estimators_train_through_the_shared_loop(monkeypatch):
    from tfsignal.classification import SeriesClassifier
    from tfsignal.tokenizers import SampleTokenizer, TFMTokenizer, TokenTransformerClassifier

    runs, fit = [], Trainer.fit

    def counted_fit(self):
        runs.append(self.config.desc)
        return fit(self)

    monkeypatch.setattr(Trainer, "fit", counted_fit)
    rng = np.random.default_rng(0)
    eeg = rng.standard_normal((2, 2, 2000))
    assert SampleTokenizer(sfreq=200, max_steps=2, progress=False).fit(eeg).n_steps_ == 2
    assert len(TFMTokenizer(sfreq=200, max_steps=3, batch_size=2, progress=False).fit(eeg).loss_curve_) == 3
    TokenTransformerClassifier(n_codes=8, epochs=1).fit(rng.integers(0, 8, (6, 2, 3)), [0, 1] * 3)
    series = rng.standard_normal((12, 1, 32)).astype(np.float32)
    small = dict(embed_dim=16, window_dim=32, ff_dim=32, cnn_hidden=16, heads=2)
    SeriesClassifier("mptsnet", model_options=small, epochs=2, val_folds=2, progress=False).fit(series, [0, 1] * 6)
    assert runs == ["fit sample", "fit tfm", "train", "select", "refit"]


def test_legs_with_cards_chain_into_one_curve(tmp_path):
    """Two legs, the second from the first's OUT/last: each card adds its leg, and the plot's history
    puts the second leg's steps after the first's hours of audio."""
    from argparse import Namespace

    from tfsignal.plot import training_curve, training_history
    from tfsignal.train.trainer import save_with_card

    init = None
    for leg, steps in (("a", 4), ("b", 2)):
        trainer, model = tiny_setup(tmp_path / leg, steps=steps)
        if init:
            model.load_state_dict(models.load(init).state_dict())
        metrics = trainer.fit()
        args = Namespace(out=str(tmp_path / leg), init=init, batch_size=2, segment_seconds=0.1, steps=steps)
        args.minutes, args.lr, args.seed = None, 1e-3, 0
        card = save_with_card(trainer, model, args, metrics, {"what": "noise"}, f"leg {leg}", "enhancement_loss")
        init = str(tmp_path / leg / "last.json")
    assert [g["steps"] for g in card["training"]["legs"]] == [4, 2] and card["training"]["total"]["steps"] == 6
    legs = training_history([tmp_path / "a", tmp_path / "b"])
    hours = 2 * 0.1 / 3600  # per step: batch 2 of 0.1 s (the card keeps 6 decimals of an hour)
    close = lambda a, b: math.isclose(a, b, rel_tol=1e-2)  # noqa: E731
    assert close(legs[1]["start_hours"], 4 * hours) and close(legs[1]["end_hours"], 6 * hours)
    assert close(legs[1]["train"][0][0], 5 * hours) and "total" in legs[1]["train"][0][1]
    assert [round(h / hours) for h, _ in legs[0]["val"]] == [2, 4] and "pesq" in legs[0]["val"][0][1]
    png = training_curve([tmp_path / "a", tmp_path / "b"], tmp_path / "curve.png", "total", "pesq")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="already exists"):
        training_curve([tmp_path / "a"], tmp_path / "curve.png", "total", "pesq")
    with pytest.raises(ValueError, match="no val metric 'si_snri' in the logs \\(they have: pesq\\)"):
        training_curve([tmp_path / "a"], tmp_path / "other.png", "total", "si_snri")
    with pytest.raises(FileNotFoundError):
        training_history([tmp_path])  # no log.jsonl


def test_every_shipped_card_with_legs_takes_one_more_leg():
    """train --init NAME adds a leg to NAME's card after the run: a card whose legs lack integer
    steps, minutes or hours would fail only then, after the training it records."""
    from tfsignal import weights
    from tfsignal.train.trainer import training_card

    cards = {name: weights.config(name).get("training") for name in models.pretrained()}
    with_legs = {name: card for name, card in cards.items() if isinstance(card, dict) and "legs" in card}
    assert "enhancer-stream" in with_legs
    for name, card in with_legs.items():
        after = training_card(card, {"steps": 10, "minutes": 1.0, "audio_hours": 0.5})
        assert after["total"]["steps"] == card["total"]["steps"] + 10, name
        assert math.isclose(after["total"]["audio_hours_seen"], card["total"]["audio_hours_seen"] + 0.5), name
