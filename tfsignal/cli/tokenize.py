"""``tfsignal tokenize``: EEG/MEG recordings to discrete tokens."""

from __future__ import annotations

import argparse

EEG_SUFFIXES = {".edf", ".bdf", ".fif", ".vhdr", ".set"}
DESCRIPTION = (
    "Turn each EEG/MEG recording (.edf, .bdf, .fif, .vhdr, .set) into integer tokens, channel by channel, "
    "and write them with the channel names to a .npz file (keys: tokens (n_channels, n_tokens), ch_names, "
    "tokens_per_second, n_codes, tokenizer, source). Any montage, channel count and sampling rate works."
)
EXAMPLE = """examples:
  tfsignal tokenize rec.edf -o tokens.npz
  tfsignal tokenize sub-01.fif sub-02.fif -o tokens/ --tokenizer sample
  tfsignal tokenize recordings/ -o tokens/ --tokenizer runs/my_tokenizer.json"""


def add_parser(sub, name: str) -> None:
    parser = sub.add_parser(
        name,
        help="tokenise EEG/MEG recordings",
        description=DESCRIPTION,
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="recordings or folders of recordings")
    parser.add_argument("-o", "--output", required=True, help=".npz file (one input) or output folder")
    parser.add_argument(
        "--tokenizer",
        default="tfm",
        help="shipped tokenizer ('tfm' or 'tfm-fast': 2 tokens/s, 'sample': 250 tokens/s) or a saved one's .json path",
    )
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(func=run)


def load_tokenizer(name_or_path: str, device: str = "cpu"):
    """The shipped or saved tokenizer of either kind, as a UserError if there is none."""
    from tfsignal.tokenizers import load_tokenizer as load

    from .common import UserError, check_device

    check_device(device)
    try:
        return load(name_or_path, device=device)
    except (FileNotFoundError, ValueError) as err:
        raise UserError(str(err)) from None


def run(args) -> int:
    from pathlib import Path

    from .common import UserError, expand_inputs, plan_outputs

    out = Path(args.output)
    if out.suffix and out.suffix.lower() != ".npz" and not out.is_dir():
        raise UserError(f"{out}: tokens are written as .npz; name the output NAME.npz or a folder")
    tokenizer = load_tokenizer(args.tokenizer, args.device)
    inputs = expand_inputs(args.inputs, EEG_SUFFIXES, what="EEG")
    outputs = [p.with_suffix(".npz") for p in plan_outputs(inputs, args.output)]
    return process_files(tokenizer, inputs, outputs, args)


def process_files(tokenizer, inputs, outputs, args) -> int:
    """Tokenise each input; a bad file is reported on one line and the batch goes on."""
    from pathlib import Path

    import numpy as np

    from tfsignal.io import InputFileError, load_eeg, write_atomically

    from .common import process_batch

    def work(src, dsts):
        raw = load_eeg(src)
        picks = raw.copy().pick("data", exclude="bads")
        try:
            tokens = tokenizer.transform(picks)
        except ValueError as err:
            raise InputFileError(src, str(err)) from None
        dtype = np.int16 if tokenizer.n_codes_ <= np.iinfo(np.int16).max else np.int32
        payload = {
            "tokens": tokens.astype(dtype),
            "ch_names": np.array(picks.ch_names),
            "tokens_per_second": np.float64(_tokens_per_second(tokenizer)),
            "n_codes": np.int64(tokenizer.n_codes_),
            "tokenizer": np.array(tokenizer.kind),
            "source": np.array(str(src)),
        }

        def write(tmp):
            with Path(tmp).open("wb") as f:
                np.savez_compressed(f, **payload)

        write_atomically(dsts[0], write)

    return process_batch([(src, [dst]) for src, dst in zip(inputs, outputs)], work, args.overwrite)


def _tokens_per_second(tokenizer) -> float:
    return 2.0 if tokenizer.kind == "tfm" else tokenizer.sfreq_model
