"""``tfsignal classify``: predict classes of series with a saved classifier."""

from __future__ import annotations


def add_parser(sub, name: str) -> None:
    parser = sub.add_parser(
        name,
        help="classify time series with a saved model",
        description="Predict one label per series in a .ts, .csv or .npy file with a saved model.",
        epilog="example: tfsignal classify runs/basicmotions data.ts",
    )
    parser.add_argument("model", help="saved model folder")
    parser.add_argument("data", help="series file (.ts, .csv or .npy)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from .common import UserError

    raise UserError("tfsignal classify: no time-series classifier ships yet (see README.md, Roadmap)")
