"""Score the shipped (or any) enhancer next to the baselines on the starter's held-out test set.

    python -m recipes.starter.evaluate --data runs/starter/data [--model enhancer] [--report report.json]

Methods: the unprocessed input, spectral gating (noisereduce), RNNoise (pyrnnoise) and the model,
on the same files (speakers and noise recordings held out from training by recipes.starter.prepare).
Prints a markdown table of mean wide-band PESQ, ESTOI and SI-SDR, then the same by input SNR, then
one JSON line with everything.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

from recipes.common.enhance_eval import METHODS, evaluate_pairs
from tfsignal import models
from tfsignal.chunking import chunked_apply
from tfsignal.frontends import resample


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="runs/starter/data", help="output folder of recipes.starter.prepare")
    parser.add_argument("--model", default="enhancer", help="shipped model name or saved model path")
    parser.add_argument("--methods", nargs="+", default=["noisy", "spectral_gating", "rnnoise", "model"])
    parser.add_argument("--report", help="write every file's scores to this JSON file")
    args = parser.parse_args(argv)
    test = Path(args.data) / "test"
    snr_of = {row["file"]: float(row["snr_db"]) for row in csv.DictReader(open(test / "meta.csv"))}
    results = {}
    for method in args.methods:
        fn = model_enhancer(args.model) if method == "model" else METHODS[method]
        results[method] = evaluate_pairs(fn, test / "noisy", test / "clean")
        print(f"{method}: {json.dumps(results[method]['enhanced'])}", file=sys.stderr)
    names = {"noisy": "noisy input", "spectral_gating": "spectral gating (noisereduce)", "rnnoise": "RNNoise"}
    names["model"] = f"tfsignal {args.model}"
    print(f"held-out test set: {results[args.methods[0]]['n']} clips of 4 s\n")
    print("| method | PESQ (wb) | ESTOI | SI-SDR (dB) |\n|---|---|---|---|")
    for method, r in results.items():
        m = r["enhanced"]
        print(f"| {names[method]} | {m['pesq']:.2f} | {m['estoi']:.3f} | {m['si_sdr']:.2f} |")
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
    summary = {k: {"n": v["n"], **v["enhanced"]} for k, v in results.items()}
    if args.report:
        Path(args.report).write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({"model": args.model, "results": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
