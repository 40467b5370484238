"""Trainer: checkpoint and resume, best weights loadable, DDP with two gloo processes on CPU."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from tfsignal import models
from tfsignal.train import TrainConfig, Trainer, enhancement_loss


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
