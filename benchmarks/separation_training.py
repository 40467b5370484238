"""Training throughput of TIGER configurations on one CPU thread: seconds per step and hours of
mixtures per hour of training.

    OMP_NUM_THREADS=1 python benchmarks/separation_training.py            # tiger-tiny, tiger-cpu
    OMP_NUM_THREADS=1 python benchmarks/separation_training.py --batch-size 4 --segment-seconds 2

One step = forward, permutation-invariant thresholded-SNR loss, backward and AdamW update on a
batch of random "mixtures" (the cost does not depend on the signal), as one process of
``torchrun --nproc_per_node 2 ... --threads 1`` runs it; the batches of the dataset are not made
here. "tiger-cpu, Conv1d depthwise" runs tiger-cpu with its depthwise convolutions as plain
``nn.Conv1d`` (the form before benchmarks/depthwise.py), to show what that change gives end to end.
Real time = seconds of audio per second of training in this process; two such processes on two
cores make twice that if nothing else runs. All rows come from one run: compare their ratios.
"""

from __future__ import annotations

import argparse

import torch
from timing import median_seconds

from tfsignal import models
from tfsignal.models.tiger import DepthwiseConv1d
from tfsignal.train.losses import pit_snr_loss


def step_seconds(model, batch_size: int, segment_seconds: float, repeats: int) -> float:
    torch.manual_seed(0)
    length = round(segment_seconds * model.sample_rate)
    sources = 0.05 * torch.randn(batch_size, 2, length)
    mixture = sources.sum(1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def step():
        loss = pit_snr_loss(model, mixture, sources)["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return median_seconds(step, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--segment-seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=4, help="timed steps per row (after one warm-up)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    audio = args.batch_size * args.segment_seconds
    print(f"1 thread, batch {args.batch_size} x {args.segment_seconds:g} s, median of {args.repeats} steps\n")
    print("| config | parameters | s / step | real time (1 process) |\n|---|---|---|---|")
    rows = {"tiger-tiny": models.create("tiger-tiny"), "tiger-cpu": models.create("tiger-cpu")}
    plain = models.create("tiger-cpu")
    for module in plain.modules():
        if isinstance(module, DepthwiseConv1d):
            module.forward = torch.nn.Conv1d.forward.__get__(module)
    rows["tiger-cpu, Conv1d depthwise"] = plain
    for name, model in rows.items():
        seconds = step_seconds(model, args.batch_size, args.segment_seconds, args.repeats)
        params = sum(p.numel() for p in model.parameters())
        print(f"| {name} | {params:,} | {seconds:.2f} | {audio / seconds:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
