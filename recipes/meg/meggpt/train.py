"""Train MEG-GPT by next-token prediction on tokenised MEG, then score its predictions and generations.

    python -m recipes.meg.meggpt.train --minutes 30 --out runs/meggpt                     # simulated MEG
    python -m recipes.meg.meggpt.train --minutes 30 --out runs/meggpt --data rest.npy --sfreq 250
    python -m recipes.meg.meggpt.train --minutes 600 --out runs/meggpt --model meg-gpt \\
        --data runs/camcan/train_tokens.npz

No real MEG ships with tfsignal or can be fetched offline, so the default data are SIMULATED:
``tfsignal.simulate.simulate_meg`` (52 parcels at 250 Hz, bursting networks switched by a hidden
Markov chain over a 1/f background); every number this gives on them is about simulated data.
--data PATH.npy reads a real recording as a float array (n_channels, n_samples) at --sfreq Hz;
--data PATH.npz reads tokens made by ``recipes.meg.camcan.prepare`` (one (n_parcels, n_tokens) array per
subject; with train_tokens.npz the test_tokens.npz beside it is the held-out set).

Stages (prepare is skipped when OUT/tokens.npz was made with the same settings; --evaluate-only skips
training):
1. prepare: the last --test-fraction of the recording is held out; the rest is tokenised with
   ``SampleTokenizer.load(--tokenizer)`` (default "sample", the shipped one) or, when that cannot be
   loaded, a SampleTokenizer fitted here on the training part (a note says so; saved as
   OUT/tokenizer.*). Tokens go to OUT/tokens.npz.
2. train: MEG-GPT (--model, default the CPU-sized meg-gpt-tiny; meg-gpt is the paper's 4 M-parameter
   configuration) on random windows of context + 1 tokens of all channels, AdamW, warm-up then
   cosine decay over the time (--minutes) or step (--steps) budget. Saved as OUT/meggpt.*
   (``tfsignal.models.load("OUT/meggpt")``).
3. evaluate: top-1 / top-5 next-token accuracy and cross-entropy on held-out windows, each scoring
   its last --eval-last predictions (those with the longest past, as the reference code's loss
   does); baselines: repeating the last token and each channel's most frequent
   training token. Then --generate-seconds of all channels are sampled from a held-out prompt,
   decoded with ``tokenizer.inverse_transform`` and compared with the held-out data (z-scored per
   channel) by ``tfsignal.metrics.psd_similarity``; for reference the same score is given for the
   tokenizer's reconstruction of the held-out data (the ceiling) and for tokens drawn independently
   from each channel's training histogram (no temporal model). Generated tokens and signal go to
   OUT/generated.npz.

The last line printed is one JSON object: {"data", "model", "params", "steps", "top1", "top5",
"psd_similarity", ...}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from tfsignal.arguments import usage_error
from tfsignal.frontends import resample
from tfsignal.io import save_npz
from tfsignal.tokenizers import load_tokenizer
from tfsignal.train.schedules import warmup_cosine
from tfsignal.train.trainer import TrainConfig, Trainer

EVAL_WINDOWS = 256  # held-out windows scored (evenly spaced)


def parse_args(argv=None) -> argparse.Namespace:
    doc = __doc__.split("\n\n")
    parser = argparse.ArgumentParser(
        description=doc[0], epilog=doc[1] + "\n\n" + doc[2], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="folder for tokens, tokenizer, model and generated data")
    parser.add_argument("--minutes", type=float, help="training time budget (give --minutes, --steps or both)")
    parser.add_argument("--steps", type=int, help="training steps budget")
    parser.add_argument(
        "--data",
        default="simulated",
        help="'simulated' (default: simulate_meg, as no real MEG is available offline), PATH.npy "
        "(n_channels, n_samples) or the camcan recipe's PATH.npz",
    )
    parser.add_argument("--sfreq", type=float, default=250.0, help="sampling rate of --data PATH.npy (Hz)")
    parser.add_argument("--sim-seconds", type=float, default=300.0, help="length of the simulated recording")
    parser.add_argument("--sim-parcels", type=int, default=52, help="parcels of the simulated recording")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="held-out end of the recording")
    parser.add_argument("--tokenizer", default="sample", help="shipped tokenizer name or saved path (default: sample)")
    parser.add_argument(
        "--tokenizer-steps",
        type=int,
        default=300,
        help="steps when the tokenizer is fitted here (its soft-to-hard annealing spans them; ~1 s each on CPU)",
    )
    parser.add_argument("--tokenizer-minutes", type=float, default=15.0, help="time limit of that fit (a safety stop)")
    parser.add_argument("--model", default="meg-gpt-tiny", help="registered MEG-GPT configuration")
    parser.add_argument("--dropout", type=float, help="override the configuration's dropout (paper: 0.2)")
    parser.add_argument("--batch-size", type=int, default=2, help="windows per step, each with all channels")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--warmup", type=float, default=0.05, help="share of the budget spent in linear warm-up")
    parser.add_argument("--weight-decay", type=float, default=0.01, help="AdamW decay of the weight matrices")
    parser.add_argument("--eval-last", type=int, default=16, help="predictions scored per held-out window")
    parser.add_argument("--generate-seconds", type=float, default=10.0, help="length of the generated signal")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (0: greedy)")
    parser.add_argument("--top-k", type=int, help="sample among the k most likely tokens only")
    parser.add_argument("--evaluate-only", action="store_true", help="skip training: evaluate OUT/meggpt")
    parser.add_argument("--threads", type=int, default=1, help="torch (OMP) threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if not args.evaluate_only and args.minutes is None and args.steps is None:
        raise usage_error("give --minutes, --steps or both")
    if (args.minutes is not None and args.minutes <= 0) or (args.steps is not None and args.steps < 1):
        raise usage_error("--minutes and --steps must be positive")
    if not 0 < args.test_fraction < 1:
        raise usage_error(f"--test-fraction must lie in (0, 1), got {args.test_fraction}")
    if not 0 <= args.warmup < 1:
        raise usage_error(f"--warmup must lie in [0, 1), got {args.warmup}")
    if args.batch_size < 1 or args.eval_last < 1 or args.generate_seconds <= 0:
        raise usage_error("--batch-size, --eval-last and --generate-seconds must be positive")
    return args


# ------------------------------------------------------------------------------------------ prepare


def zscore(x: np.ndarray) -> np.ndarray:
    std = x.std(-1, keepdims=True)
    return (x - x.mean(-1, keepdims=True)) / np.where(std > 0, std, 1.0)


def read_signal(args: argparse.Namespace) -> tuple[np.ndarray, float, str]:
    """(n_channels, n_samples) float recording, its rate, and a description of where it came from."""
    if args.data == "simulated":
        from tfsignal.simulate import simulate_meg

        x = simulate_meg(n_parcels=args.sim_parcels, duration_s=args.sim_seconds, sfreq=250.0, seed=args.seed)
        return x, 250.0, f"simulated MEG (tfsignal.simulate.simulate_meg, {args.sim_parcels} parcels, seed {args.seed})"
    path = Path(args.data)
    if not path.is_file():
        raise usage_error(f"{path}: no such file (--data takes 'simulated', a .npy or a .npz file)")
    x = np.load(path, allow_pickle=False)
    if x.ndim != 2 or x.dtype.kind != "f" or min(x.shape) < 2 or not np.isfinite(x).all():
        raise usage_error(f"{path}: expected a finite float array (n_channels, n_samples), got {x.dtype} {x.shape}")
    return x, args.sfreq, f"{path} ({x.shape[0]} channels at {args.sfreq:g} Hz)"


def read_token_archives(path: Path, test_fraction: float) -> tuple[list[np.ndarray], list[np.ndarray], int, float]:
    """The camcan recipe's archives: (train token arrays, held-out token arrays, n_codes, rate). Without a
    test_tokens.npz beside train_tokens.npz the last ``test_fraction`` of every recording is held out."""

    def read(p: Path) -> tuple[list[np.ndarray], int, float]:
        with np.load(p, allow_pickle=False) as saved:  # subjects side by side in time, with their lengths
            per_subject = np.split(saved["tokens"], np.cumsum(saved["lengths"])[:-1], axis=1)
            return (
                [np.asarray(t, dtype=np.int64) for t in per_subject],
                int(saved["n_codes"]),
                float(saved["sfreq"]),
            )

    train, n_codes, rate = read(path)
    beside = path.with_name(path.name.replace("train_", "test_"))
    if beside != path and beside.exists():
        test, _, _ = read(beside)
    else:
        cut = [int(round(t.shape[1] * (1 - test_fraction))) for t in train]
        train, test = [t[:, :c] for t, c in zip(train, cut)], [t[:, c:] for t, c in zip(train, cut)]
    return train, test, n_codes, rate


def tokenizer_for(args: argparse.Namespace, train_signal: np.ndarray | None, rate: float, out: Path):
    """(tokenizer, where it came from): --tokenizer loaded, or a SampleTokenizer fitted on ``train_signal``."""
    from tfsignal.tokenizers import SampleTokenizer

    fitted = out / "tokenizer"
    try:
        tokenizer, source = load_tokenizer(args.tokenizer, kind="sample"), args.tokenizer
    except (FileNotFoundError, ValueError, OSError) as err:
        if fitted.with_suffix(".json").exists():
            print(
                f"note: cannot load tokenizer {args.tokenizer!r}; using the one fitted before, {fitted}",
                file=sys.stderr,
            )
            return SampleTokenizer.load(fitted), str(fitted)
        if train_signal is None:
            print(f"note: cannot load tokenizer {args.tokenizer!r} ({err}); no signals to fit one", file=sys.stderr)
            return None, None
        print(
            f"note: cannot load tokenizer {args.tokenizer!r} ({str(err).splitlines()[0]}); fitting a SampleTokenizer "
            f"on the training part ({args.tokenizer_steps} steps or {args.tokenizer_minutes:g} min)",
            file=sys.stderr,
        )
        tokenizer = SampleTokenizer(
            sfreq=rate,
            max_steps=args.tokenizer_steps,
            max_minutes=args.tokenizer_minutes,
            random_state=args.seed,
            progress=not args.quiet,
        ).fit(train_signal)
        tokenizer.save(fitted, overwrite=True)
        source = f"fitted here ({tokenizer.n_steps_} steps), saved as {fitted}"
    return tokenizer, source


def prepare(args: argparse.Namespace, out: Path) -> dict:
    """Tokens of the training and held-out parts, the tokenizer, and the held-out signal for the PSD."""
    settings = json.dumps(
        {
            k: getattr(args, k)
            for k in ("data", "sfreq", "sim_seconds", "sim_parcels", "test_fraction", "tokenizer", "seed")
        }
    )
    cached = out / "tokens.npz"
    if args.data.endswith(".npz"):
        train, test, n_codes, rate = read_token_archives(Path(args.data), args.test_fraction)
        if len({t.shape[0] for t in train + test}) != 1:
            raise usage_error(f"{args.data}: the recordings have different channel counts")
        tokenizer, source = tokenizer_for(args, None, rate, out)
        # no raw signal in the archive: the generated signal is compared with the decoded held-out tokens
        real = None if tokenizer is None else tokenizer.inverse_transform(test[0])
        return dict(
            train=train,
            test=test,
            n_codes=n_codes,
            rate=rate,
            real=real,
            real_kind="decoded held-out tokens",
            tokenizer=tokenizer,
            tokenizer_source=source,
            data=f"{args.data} (tokens)",
        )
    signal, sfreq, description = read_signal(args)
    cut = int(round(signal.shape[1] * (1 - args.test_fraction)))
    train_signal, test_signal = signal[:, :cut], signal[:, cut:]
    tokenizer = None
    if cached.exists():
        with np.load(cached, allow_pickle=False) as saved:
            if str(saved["settings"]) == settings:
                tokenizer, source = tokenizer_for(args, None, sfreq, out)
                train_tokens, test_tokens = saved["train"].astype(np.int64), saved["test"].astype(np.int64)
        if tokenizer is not None:
            print(f"prepare: reusing {cached}", file=sys.stderr)
    if tokenizer is None:
        tokenizer, source = tokenizer_for(args, train_signal, sfreq, out)
        train_tokens = np.asarray(tokenizer.transform(train_signal, sfreq=sfreq), dtype=np.int64)  # (C, N_train)
        test_tokens = np.asarray(tokenizer.transform(test_signal, sfreq=sfreq), dtype=np.int64)  # (C, N_test)
        save_npz(cached, train=train_tokens.astype(np.int16), test=test_tokens.astype(np.int16), settings=settings)
    rate = sfreq * train_tokens.shape[1] / train_signal.shape[1]  # tokens per second
    rate = float(round(rate, 6))
    real = zscore(resample(test_signal, sfreq, rate))
    return dict(
        train=[train_tokens],
        test=[test_tokens],
        n_codes=int(tokenizer.n_codes),
        rate=rate,
        real=real,
        real_kind="held-out signal, z-scored",
        tokenizer=tokenizer,
        tokenizer_source=source,
        data=description,
    )


# -------------------------------------------------------------------------------------------- train


class Windows:
    """Random windows (batch, C, length) of a list of (C, N) token arrays, recordings drawn by length."""

    def __init__(self, recordings: list[np.ndarray], length: int) -> None:
        self.recordings = [torch.from_numpy(r) for r in recordings if r.shape[1] >= length]
        if not self.recordings:
            raise usage_error(f"every recording is shorter than one window of {length} tokens")
        self.length = length
        counts = np.array([r.shape[1] - length + 1 for r in self.recordings], dtype=np.float64)
        self.weights = counts / counts.sum()

    def batch(self, size: int, rng: np.random.Generator) -> torch.Tensor:
        picks = rng.choice(len(self.recordings), size=size, p=self.weights)
        windows = []
        for i in picks:
            start = int(rng.integers(self.recordings[i].shape[1] - self.length + 1))
            windows.append(self.recordings[i][:, start : start + self.length])
        return torch.stack(windows)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on the Linear weight matrices only (not on embeddings, norms or biases)."""
    decay = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Linear)}
    params = list(model.parameters())
    return [
        {"params": [p for p in params if id(p) in decay], "weight_decay": weight_decay},
        {"params": [p for p in params if id(p) not in decay], "weight_decay": 0.0},
    ]


def train(model, windows: Windows, args: argparse.Namespace) -> dict:
    """Train ``model`` with the library's loop: linear warm-up over the first ``--warmup`` share of the
    budget, then cosine decay to 5 % of ``--lr`` at its end (the first steps at 1 % at least)."""
    rng = np.random.default_rng(args.seed)

    def batches(epoch: int):
        while True:
            yield windows.batch(args.batch_size, rng)

    config = TrainConfig.in_process(
        steps=args.steps,
        minutes=args.minutes,
        grad_clip=1.0,
        log_every=10,
        progress_bar=not args.quiet,
    )
    optimizer = torch.optim.AdamW(param_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.98))
    started = time.time()
    trainer = Trainer(
        model,
        lambda net, batch: net.loss(batch),
        batches,
        config,
        optimizer=optimizer,
        schedule=lambda step, progress: max(0.01, warmup_cosine(progress, args.warmup, min_ratio=0.05)),
    )
    trainer.fit()
    model.eval()
    return {
        "steps": trainer.step,
        "train_loss": round(float(np.mean(trainer.loss_curve[-50:])), 4),
        "train_minutes": round((time.time() - started) / 60, 2),
    }


# ----------------------------------------------------------------------------------------- evaluate


def held_out_windows(recordings: list[np.ndarray], length: int, count: int = EVAL_WINDOWS) -> torch.Tensor:
    """(K, C, length) windows spread evenly over the held-out recordings."""
    spots = [(i, s) for i, r in enumerate(recordings) for s in range(0, r.shape[1] - length + 1, max(1, length // 4))]
    if not spots:
        raise usage_error(f"the held-out part is shorter than one window of {length} tokens")
    picks = np.linspace(0, len(spots) - 1, min(count, len(spots))).round().astype(int)
    return torch.stack(
        [torch.from_numpy(recordings[spots[k][0]][:, spots[k][1] : spots[k][1] + length]) for k in picks]
    )


@torch.no_grad()
def next_token_scores(model, windows: torch.Tensor, last: int, train: list[np.ndarray]) -> dict:
    """Cross-entropy, top-1 and top-5 accuracy of the last ``last`` predictions of each window, and the
    top-1 of two baselines: repeat the previous token; each channel's most frequent training token."""
    targets = windows[..., -last:]  # (K, C, last)
    logits = torch.cat([model(chunk[..., :-1])[..., -last:, :] for chunk in windows.split(16)])  # (K, C, last, V)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 2), targets.flatten())
    top5 = logits.topk(min(5, logits.shape[-1]), dim=-1).indices
    n_codes = logits.shape[-1]
    majority = torch.from_numpy(
        np.stack([np.bincount(c, minlength=n_codes) for c in np.concatenate(train, axis=1)]).argmax(1)
    )  # (C,)
    return {
        "val_loss": round(loss.item(), 4),
        "top1": round((top5[..., 0] == targets).float().mean().item(), 4),
        "top5": round((top5 == targets[..., None]).any(-1).float().mean().item(), 4),
        "top1_repeat": round((windows[..., -last - 1 : -1] == targets).float().mean().item(), 4),
        "top1_majority": round((majority[None, :, None] == targets).float().mean().item(), 4),
    }


def unigram_tokens(train: list[np.ndarray], n_codes: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """(C, n) tokens drawn independently from each channel's training histogram."""
    joined = np.concatenate(train, axis=1)
    return np.stack([rng.choice(n_codes, size=n, p=np.bincount(c, minlength=n_codes) / len(c)) for c in joined])


# --------------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as err:
        return int(err.code or 0)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    from tfsignal import models, weights
    from tfsignal.metrics import codebook_usage, perplexity, psd_similarity

    started = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        data = prepare(args, out)
        train_tokens, test_tokens, n_codes, rate = data["train"], data["test"], data["n_codes"], data["rate"]
        n_channels = train_tokens[0].shape[0]
        if args.evaluate_only:
            try:
                model = models.load(out / "meggpt")
            except FileNotFoundError as err:
                raise usage_error(f"--evaluate-only: {err}") from None
            training = weights.config(out / "meggpt").get("training", {})
        else:
            overrides = {"vocab_size": n_codes, "n_channels": n_channels}
            if args.dropout is not None:
                overrides["dropout"] = args.dropout
            try:
                model = models.create(args.model, **overrides)
            except (KeyError, TypeError) as err:
                raise usage_error(str(err).strip("'\"")) from None
            windows = Windows(train_tokens, model.config.context + 1)
            training = train(model, windows, args)
        model.eval()
        context = model.config.context
        if args.eval_last > context:
            raise usage_error(f"--eval-last {args.eval_last} exceeds the context of {context} tokens")
        scores = next_token_scores(model, held_out_windows(test_tokens, context + 1), args.eval_last, train_tokens)
    except SystemExit as err:
        return int(err.code)

    # generation from the first held-out context, all channels together
    n_steps = int(round(args.generate_seconds * rate))
    prompt = torch.from_numpy(test_tokens[0][:, :context])[None]  # (1, C, context)
    generator = torch.Generator().manual_seed(args.seed)
    sampled = model.generate(prompt, n_steps, temperature=args.temperature, top_k=args.top_k, generator=generator)
    generated = sampled[0, :, context:].numpy()  # (C, n_steps)
    spectra = {"psd_similarity": None, "psd_similarity_reconstruction": None, "psd_similarity_unigram": None}
    tokenizer, real = data["tokenizer"], data["real"]
    signal = np.zeros((n_channels, 0))
    if tokenizer is not None and real is not None:
        signal = tokenizer.inverse_transform(generated)  # (C, n_steps), normalised units
        unigram = unigram_tokens(train_tokens, n_codes, n_steps, np.random.default_rng(args.seed))
        spectra["psd_similarity"] = round(psd_similarity(signal, real, rate), 4)
        spectra["psd_similarity_unigram"] = round(psd_similarity(tokenizer.inverse_transform(unigram), real, rate), 4)
        if data["real_kind"].startswith("held-out signal"):  # the tokenizer's ceiling
            reconstruction = tokenizer.inverse_transform(test_tokens[0])
            spectra["psd_similarity_reconstruction"] = round(psd_similarity(reconstruction, real, rate), 4)
    save_npz(out / "generated.npz", tokens=generated.astype(np.int16), signal=signal.astype(np.float32), sfreq=rate)

    all_train = np.concatenate(train_tokens, axis=1)
    summary = {
        "data": data["data"],
        "tokenizer": data["tokenizer_source"],
        "model": model.name,
        "params": sum(p.numel() for p in model.parameters()),
        "n_channels": n_channels,
        "vocab_size": n_codes,
        "token_rate": rate,
        "train_tokens": int(all_train.size),
        "usage": round(codebook_usage(all_train, n_codes), 4),
        "perplexity": round(perplexity(all_train, n_codes), 2),
        **training,
        **scores,
        "eval_last": args.eval_last,
        "generated_seconds": round(n_steps / rate, 2),
        "psd_reference": data["real_kind"],
        **spectra,
        "out": str(out),
    }
    if not args.evaluate_only:
        command = "python -m recipes.meg.meggpt.train " + " ".join(sys.argv[1:] if argv is None else argv)
        models.save(
            model,
            out / "meggpt",
            training=training,
            data=data["data"],
            tokenizer=data["tokenizer_source"],
            metrics={k: summary[k] for k in ("val_loss", "top1", "top5", "psd_similarity")},
            command=command,
        )
    summary["seconds"] = round(time.time() - started, 1)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
