"""Depthwise 1-D convolution on CPU, forward + backward, in five forms at tiger-cpu's real shapes.

    OMP_NUM_THREADS=1 python benchmarks/depthwise.py    # one thread, as each torchrun training process

TIGER's MSA runs depthwise k=5 convolutions (stride 1 and 2) along bands and along frames; on a
CPU their backward pass took the largest share of a training step. Every form below computes the
same result (checked against the first before timing); the table gives the median time of one
forward + backward per form and its ratio to ``conv1d``, all measured in the same run with the
forms taking turns (one call of each, 30 rounds), so that a change in the machine's load falls
on all of them alike.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

KERNEL = 5
ROUNDS = 30


def conv1d(x, w, stride):
    """The reference: Conv1d with one group per channel. x (B, C, L), w (C, 1, k)."""
    return F.conv1d(x, w, stride=stride, padding=KERNEL // 2, groups=x.shape[1])


def conv2d(x, w, stride):
    """The same as a (1, k) Conv2d on (B, C, 1, L)."""
    y = F.conv2d(x[:, :, None], w[:, :, None], stride=(1, stride), padding=(0, KERNEL // 2), groups=x.shape[1])
    return y[:, :, 0]


def conv2d_channels_last(x, w, stride):
    """The (1, k) Conv2d with the input in channels-last memory layout."""
    x4 = x[:, :, None].contiguous(memory_format=torch.channels_last)
    y = F.conv2d(x4, w[:, :, None], stride=(1, stride), padding=(0, KERNEL // 2), groups=x.shape[1])
    return y[:, :, 0]


def unfold_einsum(x, w, stride):
    """Windows of the padded input (B, C, L', k) contracted with the taps (C, k)."""
    windows = F.pad(x, (KERNEL // 2, KERNEL // 2)).unfold(-1, KERNEL, stride)  # (B, C, L', k)
    return torch.einsum("bclk,ck->bcl", windows, w[:, 0])


def shifted_sum(x, w, stride):
    """A sum of k shifted, strided views of the padded input, each scaled by its tap (C, 1)."""
    padded = F.pad(x, (KERNEL // 2, KERNEL // 2))  # (B, C, L + k - 1)
    length = (x.shape[-1] - 1) // stride + 1
    taps = w[:, 0]  # (C, k)
    y = padded[..., 0 : (length - 1) * stride + 1 : stride] * taps[:, 0:1]
    for j in range(1, KERNEL):
        y = y + padded[..., j : j + (length - 1) * stride + 1 : stride] * taps[:, j : j + 1]
    return y  # (B, C, length)


FORMS = {
    "conv1d": conv1d,
    "conv2d (1, k)": conv2d,
    "conv2d channels-last": conv2d_channels_last,
    "unfold + einsum": unfold_einsum,
    "shifted sum": shifted_sum,
}

# (what, batch, channels, length, stride): tiger-cpu on a batch of 4 two-second crops (126 frames,
# 33 bands) with 48 channels inside the MSA: along bands the batch is 4 x 126 frames, along
# frames 4 x 33 bands; the first stride-2 scale of each path as well.
SHAPES = [
    ("along bands", 504, 48, 33, 1),
    ("along bands, stride 2", 504, 48, 33, 2),
    ("along frames", 132, 48, 126, 1),
    ("along frames, stride 2", 132, 48, 126, 2),
]


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)  # the per-process setting of CPU training (one thread per torchrun process)
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} thread(s); median of {ROUNDS} interleaved forward + backward\n")
    print("| shape (B, C, L), stride | " + " | ".join(f"{name} (ms)" for name in FORMS) + " | best / conv1d |")
    print("|---" * (len(FORMS) + 2) + "|")
    for what, batch, channels, length, stride in SHAPES:
        x = torch.randn(batch, channels, length, requires_grad=True)
        w = torch.randn(channels, 1, KERNEL, requires_grad=True)
        reference = conv1d(x, w, stride)
        steps = {}
        for name, form in FORMS.items():
            assert torch.allclose(form(x, w, stride), reference, atol=1e-5), name
            grad = torch.randn_like(reference)

            def step(form=form, grad=grad):
                x.grad = w.grad = None
                form(x, w, stride).backward(grad)

            step()  # warm-up
            steps[name] = step
        samples = {name: [] for name in FORMS}
        for _ in range(ROUNDS):
            for name, step in steps.items():
                start = time.perf_counter()
                step()
                samples[name].append(time.perf_counter() - start)
        times = {name: statistics.median(values) for name, values in samples.items()}
        cells = " | ".join(f"{1000 * t:.2f}" for t in times.values())
        best = min(times.values()) / times["conv1d"]
        print(f"| {what} ({batch}, {channels}, {length}), {stride} | {cells} | {best:.2f} |")


if __name__ == "__main__":
    main()
