"""Command-line pieces shared by the spherization examples (``spherization_toy_task.py``,
``spherization_vis3d.py``): the reference's spherization flags, bad values refused in one line
with exit status 2, and earlier outputs never overwritten."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path


def add_spherization_flags(parser: argparse.ArgumentParser) -> None:
    """The reference scripts' flags with their defaults for the toy task and the visualisation:
    scaling 1, radius 1, lrable TF, delta 1e-6, seed 1 (``--seed-num`` as the reference spells
    it)."""
    parser.add_argument("--scaling", type=float, default=1.0, help="spherization's scaling")
    parser.add_argument("--radius", type=float, default=1.0, help="spherization's radius r")
    parser.add_argument(
        "--lrable",
        default="TF",
        choices=["TT", "TF", "FT", "FF"],
        help="is the scaling, is the radius learnable",
    )
    parser.add_argument("--delta", type=float, default=1e-6, help="spherization's angle bound")
    parser.add_argument("--seed", "--seed-num", dest="seed", type=int, default=1)


def error_exit(message: str) -> None:
    """``error: <message>`` on one line of stderr, exit status 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_flags(args: argparse.Namespace, extra: Iterable[tuple[str, object, bool, str]]) -> None:
    """Refuse the first bad value among the training and spherization flags and ``extra``
    ((flag, value, ok, allowed) each): ``error: <flag>: got <value>; allowed: <allowed>``."""
    checks = [
        ("--n-epochs", args.n_epochs, args.n_epochs >= 1, "an integer >= 1"),
        ("--lr", args.lr, args.lr > 0, "> 0"),
        ("--scaling", args.scaling, args.scaling > 0, "> 0"),
        ("--radius", args.radius, args.radius > 0, "> 0"),
        ("--delta", args.delta, 0 < args.delta < 1, "0 < delta < 1"),
        *extra,
    ]
    for flag, value, ok, allowed in checks:
        if not ok:
            error_exit(f"{flag}: got {value!r}; allowed: {allowed}")


def refuse_earlier_outputs(out: Path, names: Iterable[str]) -> None:
    """Stop (one line, exit 2) before training when ``out`` holds any of ``names``."""
    earlier = [name for name in names if (out / name).exists()]
    if earlier:
        error_exit(
            f"--out: {out} already holds {', '.join(earlier)}; allowed: a folder without them "
            "(an earlier run is never overwritten)"
        )
