"""Run inside a fresh virtual environment holding the tfsignal wheel (scripts/test_wheel.sh).

Arguments: the work folder the environment lives in, then every name the checkout ships. Checks
that tfsignal is the installed copy, that every shipped artefact is in the wheel and loads by name,
and that the shipped tokenizers tokenise an array.
"""

import json
import sys
from pathlib import Path

import numpy as np

import tfsignal
from tfsignal import weights
from tfsignal.tokenizers import load_tokenizer

work, expected = Path(sys.argv[1]).resolve(), sorted(sys.argv[2:])
where = Path(tfsignal.__file__).resolve()
assert work in where.parents and "site-packages" in where.parts, f"tfsignal imported from {where}"
assert weights.shipped() == expected, f"the wheel ships {weights.shipped()}, the checkout {expected}"

for name in expected:
    obj = weights.load(name)
    kind = weights.kind_of(json.loads(weights.resolve(name).read_text()))
    print(f"{name:16s} {kind:10s} {type(obj).__name__}")
    assert not getattr(obj, "training", False)

rng = np.random.default_rng(0)
eeg = rng.standard_normal((3, 2, 250 * 4)) * 20e-6  # 3 epochs, 2 channels, 4 s at 250 Hz, in volts
for name in weights.shipped("tokenizer"):
    tokens = load_tokenizer(name).transform(eeg, sfreq=250.0)
    assert tokens.ndim == 3 and tokens.shape[:2] == (3, 2) and tokens.dtype.kind in "iu", tokens.shape
    print(f"{name:16s} tokens {tokens.shape}")
