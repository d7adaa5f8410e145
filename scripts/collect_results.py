"""Gather every run's summary.json under a folder (a multirun sweep) into one table and plots.

    python scripts/collect_results.py multirun/simclr-digits/<time> [--metric knn_top1] [--out DIR]
        [--colour-by val/wasserstein_uniformity] [--columns knn_top1,val/rankme]

Writes results.csv (every column), results.md (what the runs share, once, then a table of what
differs between them), results.png (the metric across runs, each labelled by what tells it apart)
and, when the runs logged the sphere metrics, align_uniform.png (Wang & Isola's plane, one point
per run, coloured by accuracy or by ``--colour-by``); prints results.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hyperssl.eval.results import collect


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a multirun directory (or any folder of runs)")
    parser.add_argument(
        "--metric",
        help="the summary key to compare (default: first found of "
        "linear_top1, knn_best_top1, knn_top1, val/knn_acc1, val/probe_acc1, val/acc1)",
    )
    parser.add_argument("--out", type=Path, help="where to write (default: the root folder)")
    parser.add_argument(
        "--colour-by",
        help="the summary key that colours the alignment-uniformity plane (default: accuracy), "
        "e.g. val/wasserstein_uniformity, val/rankme, val/effective_rank",
    )
    parser.add_argument(
        "--columns",
        type=lambda text: text.split(","),
        help="comma-separated summary keys: the only results results.md shows, in this order "
        "(default: every result that differs; results.csv always has them all)",
    )
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"error: {args.root} is not a directory", file=sys.stderr)
        return 2
    try:
        written = collect(args.root, args.out, args.metric, args.colour_by, args.columns)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(written["markdown"].read_text(), end="")
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
