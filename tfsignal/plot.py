"""Pictures that explain a result better than numbers (matplotlib, from the ``audio`` extra).

    python -m tfsignal.plot runs/separation/cpu runs/separation/cpu2 -o curve.png --train snr --val si_snri

draws the training curve of a model trained in legs (each leg a recipe's ``--out`` folder, the
next one started with ``--init`` from the previous one's ``last.json``): :func:`training_curve`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from tfsignal.io import check_output_path, publish


def _save_figure(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG to a temporary file beside ``path``, rename it into place, close it."""
    import matplotlib.pyplot as plt

    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100)
        publish(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _log_spectrogram(x: np.ndarray, sr: int, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    from scipy.signal import stft

    _, _, spec = stft(x, sr, nperseg=n_fft, noverlap=n_fft - hop)
    return 20 * np.log10(np.abs(spec) + 1e-8)  # (freq, frames) in dB


def spectrogram_comparison(
    before: np.ndarray,
    after: np.ndarray,
    sr: int,
    path: str | os.PathLike,
    titles: tuple[str, str] = ("input", "enhanced"),
    overwrite: bool = False,
) -> Path:
    """Write a PNG with the spectrograms of ``before`` and ``after`` (mono, same rate) one above the other.

    Both panels share one colour scale (80 dB below the louder one's peak), so what was removed
    shows as darker regions. The file is written atomically and an existing one is kept unless
    ``overwrite``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = check_output_path(path, overwrite)
    specs = [_log_spectrogram(np.asarray(x, dtype=np.float64), sr) for x in (before, after)]
    top = max(s.max() for s in specs)
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True, constrained_layout=True)
    for ax, spec, title in zip(axes, specs, titles):
        extent = (0, len(before) / sr, 0, sr / 2000)
        image = ax.imshow(spec, origin="lower", aspect="auto", extent=extent, vmin=top - 80, vmax=top, cmap="magma")
        ax.set_title(title)
        ax.set_ylabel("kHz")
    axes[-1].set_xlabel("seconds")
    fig.colorbar(image, ax=axes, label="dB")
    return _save_figure(fig, path)


def training_history(runs: list[str | os.PathLike], hours_per_step: float | None = None) -> list[dict]:
    """The legs of one model's training, chained: for each run folder (a Trainer's ``out_dir``, in
    the order the legs ran) ``{"run", "start_hours", "end_hours", "train": [(hours, {metric: value})],
    "val": [(hours, {metric: value})]}``, hours counted in audio seen from the first leg's start.

    A leg's hours per step come from its ``last.json`` model card (tfsignal.train.trainer.save_with_card);
    a leg without one (still running) takes ``hours_per_step``, else the previous leg's rate."""
    import json

    from tfsignal import weights

    legs, start, rate = [], 0.0, hours_per_step
    for run in map(Path, runs):
        log = run / "log.jsonl"
        if not log.is_file():
            raise FileNotFoundError(f"{log}: no training log (is {run} a training run's folder?)")
        if (run / "last.json").is_file():
            leg = weights.config(run / "last.json")["training"]["legs"][-1]
            rate = float(leg["audio_hours"]) / max(int(leg["steps"]), 1)
        elif hours_per_step is not None:
            rate = hours_per_step
        if rate is None:
            raise ValueError(f"{run}: no last.json to read its hours per step from; give hours_per_step")
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        train = [(start + r["step"] * rate, r["train"]) for r in rows if "train" in r]
        val = [(start + r["step"] * rate, r["val"]) for r in rows if "val" in r]
        end = start + max((r["step"] for r in rows), default=0) * rate
        legs.append({"run": str(run), "start_hours": start, "end_hours": end, "train": train, "val": val})
        start = end
    return legs


def training_curve(
    runs: list[str | os.PathLike],
    path: str | os.PathLike,
    train_metric: str,
    val_metric: str,
    hours_per_step: float | None = None,
    smooth: int = 10,
    title: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a PNG of a model's training over several legs (:func:`training_history`): the training
    ``train_metric`` (a running mean over ``smooth`` log entries) and the validation ``val_metric``
    against the hours of audio seen, with a dashed line where each leg began."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = check_output_path(path, overwrite)
    legs = training_history(runs, hours_per_step)
    for kind, metric in (("train", train_metric), ("val", val_metric)):
        seen = sorted({name for leg in legs for _, metrics in leg[kind] for name in metrics})
        if metric not in seen:
            raise ValueError(f"no {kind} metric {metric!r} in the logs (they have: {', '.join(seen) or 'none'})")
    fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
    for i, leg in enumerate(legs):
        points = [(h, m[train_metric]) for h, m in leg["train"] if train_metric in m]
        hours, values = np.array([h for h, _ in points]), np.array([v for _, v in points])
        if len(values) >= smooth:
            kernel = np.ones(smooth) / smooth
            hours, values = hours[smooth - 1 :], np.convolve(values, kernel, mode="valid")
        ax.plot(hours, values, color="tab:blue", lw=1, label=f"training {train_metric}" if i == 0 else None)
        val = [(h, m[val_metric]) for h, m in leg["val"] if val_metric in m]
        if val:
            ax.plot(*zip(*val), "o-", color="tab:orange", ms=4, label=f"validation {val_metric}" if i == 0 else None)
        ax.axvline(leg["start_hours"], color="grey", ls="--", lw=0.8)
        ax.annotate(f"leg {i + 1}", (leg["start_hours"], 1), xycoords=("data", "axes fraction"), va="top", ha="left")
    ax.set_xlabel("hours of audio seen")
    ax.set_ylabel("dB" if "snr" in val_metric or "sdr" in val_metric else val_metric)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title)
    return _save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from tfsignal.io import InputFileError

    parser = argparse.ArgumentParser(
        prog="python -m tfsignal.plot",
        description="Plot the training curve of a model trained in legs, against the hours of audio seen.",
    )
    parser.add_argument("runs", nargs="+", help="the legs' output folders (log.jsonl, last.json), in order")
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--train", default="total", help="training metric in log.jsonl (default: %(default)s)")
    parser.add_argument("--val", required=True, help="validation metric in log.jsonl, e.g. si_snri or pesq")
    parser.add_argument("--hours-per-step", type=float, help="for a leg without last.json (still running)")
    parser.add_argument("--title")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    try:
        path = training_curve(
            args.runs,
            args.output,
            args.train,
            args.val,
            args.hours_per_step,
            title=args.title,
            overwrite=args.overwrite,
        )
    except (InputFileError, FileNotFoundError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
