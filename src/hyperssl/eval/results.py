"""Results across runs: every ``summary.json`` under a folder in one table, and comparison plots.

``scripts/collect_results.py <multirun dir>`` writes, next to the runs (or to ``--out``):

- ``results.csv`` and ``results.md``: one row per run (its path relative to the folder and its
  Hydra overrides), one column per scalar summary value;
- ``results.png``: a bar plot of one metric across runs;
- ``align_uniform.png``: alignment vs uniformity, one point per run, when the runs logged the
  sphere metrics (``val/alignment``, ``val/uniformity``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from hyperssl.eval.plots import align_uniform_figure, comparison_bar_figure, save_figure

# The first of these present in the runs is plotted when no metric is named.
DEFAULT_METRICS = (
    "linear_top1",
    "knn_best_top1",
    "knn_top1",
    "val/knn_acc1",
    "val/probe_acc1",
    "val/acc1",
)
ACCURACY_FOR_COLOUR = ("knn_top1", "linear_top1", "knn_best_top1", "val/knn_acc1", "val/acc1")


def find_runs(root: Path) -> list[Path]:
    """Run directories under ``root`` (``root`` included) that hold a summary.json, sorted."""
    return sorted(path.parent for path in root.rglob("summary.json"))


def _overrides(run_dir: Path) -> str:
    """The run's Hydra overrides, one string (empty when Hydra's record is absent)."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return ""
    from omegaconf import OmegaConf

    return " ".join(str(item) for item in OmegaConf.load(path))


def _scalars(summary: dict[str, Any]) -> dict[str, Any]:
    """The table cells of a summary: scalars as they are, lists of scalars joined by '+'."""
    cells: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            cells[key] = "+".join(str(v) for v in value)
        elif value is None or isinstance(value, str | int | float | bool):
            cells[key] = value
    return cells


def load_results(root: Path) -> list[dict[str, Any]]:
    """One row per run: ``run`` (relative path), ``overrides``, then its summary's scalars."""
    rows = []
    for run_dir in find_runs(root):
        summary = json.loads((run_dir / "summary.json").read_text())
        name = str(run_dir.relative_to(root)) if run_dir != root else run_dir.name
        rows.append({"run": name, "overrides": _overrides(run_dir), **_scalars(summary)})
    return rows


def columns_of(rows: list[dict[str, Any]]) -> list[str]:
    """Every key of the rows, in the order first seen."""
    return list(dict.fromkeys(key for row in rows for key in row))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns_of(rows))
        writer.writeheader()
        writer.writerows(rows)
    return path


def markdown_table(rows: list[dict[str, Any]]) -> str:
    columns = columns_of(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [_cell(row.get(column)).replace("|", "\\|") for column in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _numeric(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [row for row in rows if isinstance(row.get(key), int | float)]


def default_metric(rows: list[dict[str, Any]]) -> str | None:
    return next((key for key in DEFAULT_METRICS if _numeric(rows, key)), None)


def _label(row: dict[str, Any]) -> str:
    return row["overrides"] or row["run"]


def collect(root: Path, out_dir: Path | None = None, metric: str | None = None) -> dict[str, Path]:
    """Write the table and plots of every run under ``root``; returns what was written by kind."""
    rows = load_results(root)
    if not rows:
        raise FileNotFoundError(f"no summary.json under {root}")
    out_dir = out_dir or root
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"csv": write_csv(rows, out_dir / "results.csv")}
    written["markdown"] = out_dir / "results.md"
    written["markdown"].write_text(markdown_table(rows))

    metric = metric or default_metric(rows)
    plotted = _numeric(rows, metric) if metric else []
    if plotted:
        figure = comparison_bar_figure(
            [_label(row) for row in plotted], [float(row[metric]) for row in plotted], metric
        )
        written["bars"] = save_figure(figure, out_dir / "results.png")

    sphere = _numeric(_numeric(rows, "val/alignment"), "val/uniformity")
    if sphere:
        colour_key = next(
            (key for key in ACCURACY_FOR_COLOUR if len(_numeric(sphere, key)) == len(sphere)),
            None,
        )
        figure = align_uniform_figure(
            [_label(row) for row in sphere],
            [float(row["val/alignment"]) for row in sphere],
            [float(row["val/uniformity"]) for row in sphere],
            [float(row[colour_key]) for row in sphere] if colour_key else None,
            colour_key or "",
        )
        written["align_uniform"] = save_figure(figure, out_dir / "align_uniform.png")
    return written
