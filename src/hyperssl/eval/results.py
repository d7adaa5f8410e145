"""Results across runs: every ``summary.json`` under a folder in one table, and comparison plots.

``scripts/collect_results.py <multirun dir>`` writes, next to the runs (or to ``--out``):

- ``results.csv``: one row per run (its path relative to the folder and its Hydra overrides), one
  column per scalar summary value, every column;
- ``results.md``: the settings every run shares, once, then a table of what differs between the
  runs (their settings and results);
- ``results.png``: one metric across runs, each run labelled by what tells it apart (method,
  geometry, heads, the swept values);
- ``align_uniform.png``: alignment vs uniformity, one point per run, when the runs logged the
  sphere metrics (``val/alignment``, ``val/uniformity``), coloured by accuracy or by any other
  value every such run has (``--colour-by val/wasserstein_uniformity``, ``val/rankme``, ...).
"""

from __future__ import annotations

import csv
import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from hyperssl.eval.plots import (
    RunLabels,
    align_uniform_figure,
    metric_comparison_figure,
    save_figure,
)

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
# Summary keys that say what a run is (rather than what it measured); an override of the same
# key (``geometry=geodesic``, ``heads=[mhe]``) is the same setting.
IDENTITY = ("method", "geometry", "heads", "backbone", "dataset", "pretrain_dataset", "mode")
OVERRIDE_ALIASES = {"data": "dataset"}
MISSING = "-"  # a setting a run did not override, while others did
NOTE_WIDTH = 100
FIGURE_FILES = {"comparison": "results.png", "align_uniform": "align_uniform.png"}


@dataclass(frozen=True)
class Run:
    """One run directory: its path relative to the collected folder, its Hydra overrides and the
    scalars of its summary.json."""

    name: str
    overrides: tuple[str, ...]
    summary: dict[str, Any]

    def row(self) -> dict[str, Any]:
        """Its results.csv row: ``run``, ``overrides`` (one string), then the summary."""
        return {"run": self.name, "overrides": " ".join(self.overrides), **self.summary}

    def settings(self) -> dict[str, str]:
        """What the run was, key -> value: the identity keys (as the summary records them,
        else as overridden), then the other overrides."""
        overridden = {}
        for override in self.overrides:
            key, _, value = override.lstrip("+~").partition("=")
            if not key.startswith("hydra."):
                overridden[OVERRIDE_ALIASES.get(key, key)] = _shown(value)
        identity = {}
        for key in IDENTITY:
            if key in self.summary:
                identity[key] = _shown(self.summary[key])
            elif key in overridden:
                identity[key] = overridden[key]
        return identity | {k: v for k, v in overridden.items() if k not in IDENTITY}


def find_runs(root: Path) -> list[Path]:
    """Run directories under ``root`` (``root`` included) that hold a summary.json, in natural
    order (``run/2`` before ``run/10``)."""
    return sorted((path.parent for path in root.rglob("summary.json")), key=_natural)


def _natural(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def _overrides(run_dir: Path) -> tuple[str, ...]:
    """The run's Hydra overrides (none when Hydra's record is absent)."""
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return ()
    from omegaconf import OmegaConf

    return tuple(str(item) for item in OmegaConf.load(path))


def _scalars(summary: dict[str, Any]) -> dict[str, Any]:
    """The table cells of a summary: scalars as they are, lists of scalars joined by '+'."""
    cells: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            cells[key] = "+".join(str(v) for v in value)
        elif value is None or isinstance(value, str | int | float | bool):
            cells[key] = value
    return cells


def load_runs(root: Path) -> list[Run]:
    """Every run under ``root`` with its overrides and summary."""
    runs = []
    for run_dir in find_runs(root):
        summary = json.loads((run_dir / "summary.json").read_text())
        name = str(run_dir.relative_to(root)) if run_dir != root else run_dir.name
        runs.append(Run(name, _overrides(run_dir), _scalars(summary)))
    return runs


def load_results(root: Path) -> list[dict[str, Any]]:
    """One row per run: ``run`` (relative path), ``overrides``, then its summary's scalars."""
    return [run.row() for run in load_runs(root)]


def columns_of(rows: list[dict[str, Any]]) -> list[str]:
    """Every key of the rows, in the order first seen."""
    return list(dict.fromkeys(key for row in rows for key in row))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _shown(value: Any) -> str:
    """A setting as written in labels: empty (no heads, null) reads 'none'."""
    return _cell(value) or "none"


def _varies(rows: list[dict[str, str]], key: str) -> bool:
    return len({row.get(key, MISSING) for row in rows}) > 1


def describe_runs(runs: list[Run]) -> RunLabels:
    """Label each run by the settings that differ between the runs (identity keys first, then
    the swept overrides); the settings they share go to ``constant``. The run's folder is added
    as a column when the settings alone do not tell two runs apart."""
    settings = [run.settings() for run in runs]
    keys = columns_of(settings)
    varying = [key for key in keys if _varies(settings, key)]
    constant = [f"{key}={settings[0][key]}" for key in keys if key not in varying]
    cells = [tuple(row.get(key, MISSING) for key in varying) for row in settings]
    columns = _short_names(varying)
    if not varying or len(set(cells)) < len(cells):
        columns = ["run", *columns]
        cells = [(run.name, *row) for run, row in zip(runs, cells, strict=True)]
    return RunLabels(tuple(columns), tuple(cells), tuple(constant))


def _short_names(keys: list[str]) -> list[str]:
    """Each dotted key by its shortest tail that no other key ends with (``heads.mhe.power`` ->
    ``power``)."""
    names = []
    for key in keys:
        parts = key.split(".")
        for count in range(1, len(parts) + 1):
            tail = ".".join(parts[-count:])
            others = [k for k in keys if k != key and (k == tail or k.endswith("." + tail))]
            if not others:
                break
        names.append(tail)
    return names


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns_of(rows))
        writer.writeheader()
        writer.writerows(rows)
    return path


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """``rows`` as a Markdown table of ``columns`` (default: every key)."""
    columns = columns or columns_of(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [_cell(row.get(column)).replace("|", "\\|") for column in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def results_table(
    runs: list[Run], metric: str | None = None, measured: list[str] | None = None
) -> str:
    """The settings and results every run shares, once, then a Markdown table of those that
    differ: ``run``, the settings, ``metric``, then the other results (only those named in
    ``measured``, in its order, when given). One run: every column."""
    settings = [run.settings() for run in runs]
    setting_keys = columns_of(settings)
    results = [{k: v for k, v in run.summary.items() if k not in IDENTITY} for run in runs]
    if measured:
        results = [{k: result[k] for k in measured if k in result} for result in results]
    rows = [
        {"run": run.name, **{key: chosen.get(key, MISSING) for key in setting_keys}, **measured}
        for run, chosen, measured in zip(runs, settings, results, strict=True)
    ]
    measured_keys = columns_of(results)
    if metric in measured_keys:
        measured_keys = [metric, *(key for key in measured_keys if key != metric)]
    columns = ["run", *setting_keys, *measured_keys]
    if len(rows) == 1:
        return markdown_table(rows, columns)
    shown = [{key: _cell(value) for key, value in row.items()} for row in rows]
    varying = [key for key in columns if key == "run" or _varies(shown, key)]
    constant = [f"{key}={_shown(rows[0].get(key))}" for key in columns if key not in varying]
    note = ""
    if constant:
        sentence = "Same in every run: " + ", ".join(constant)
        wrapped = textwrap.fill(
            sentence, NOTE_WIDTH, break_long_words=False, break_on_hyphens=False
        )
        note = wrapped + "\n\n"
    return note + markdown_table(rows, varying)


def _numeric(runs: list[Run], key: str) -> list[Run]:
    return [run for run in runs if isinstance(run.summary.get(key), int | float)]


def default_metric(runs: list[Run]) -> str | None:
    return next((key for key in DEFAULT_METRICS if _numeric(runs, key)), None)


def sweep_figures(
    runs: list[Run], metric: str | None, colour_by: str | None = None
) -> dict[str, Figure]:
    """``comparison``: ``metric`` across the runs that logged it; ``align_uniform``: Wang &
    Isola's plane of the runs with sphere metrics, coloured by ``colour_by`` (a summary value
    every one of them has: a ValueError naming those there are otherwise), or by default by
    accuracy when every one has it."""
    figures = {}
    plotted = _numeric(runs, metric) if metric else []
    if plotted:
        figures["comparison"] = metric_comparison_figure(
            describe_runs(plotted), [float(run.summary[metric]) for run in plotted], metric
        )
    sphere = _numeric(_numeric(runs, "val/alignment"), "val/uniformity")
    if sphere:
        colour_key = _colour_key(sphere, colour_by)
        figures["align_uniform"] = align_uniform_figure(
            describe_runs(sphere),
            [float(run.summary["val/alignment"]) for run in sphere],
            [float(run.summary["val/uniformity"]) for run in sphere],
            [float(run.summary[colour_key]) for run in sphere] if colour_key else None,
            colour_key or "",
        )
    elif colour_by:
        raise ValueError(f"--colour-by {colour_by}: no run logged val/alignment and val/uniformity")
    return figures


def _colour_key(sphere: list[Run], colour_by: str | None) -> str | None:
    """The summary key that colours the plane of the ``sphere`` runs (None: no colour)."""

    def everywhere(key: str) -> bool:
        return len(_numeric(sphere, key)) == len(sphere)

    if colour_by is None:
        return next((key for key in ACCURACY_FOR_COLOUR if everywhere(key)), None)
    if not everywhere(colour_by):
        shared = sorted(key for key in sphere[0].summary if everywhere(key))
        raise ValueError(
            f"--colour-by {colour_by}: not a number in every plotted run's summary; "
            f"allowed: {', '.join(shared)}"
        )
    return colour_by


def collect(
    root: Path,
    out_dir: Path | None = None,
    metric: str | None = None,
    colour_by: str | None = None,
    measured: list[str] | None = None,
) -> dict[str, Path]:
    """Write the table and plots of every run under ``root``; returns what was written by kind
    (``csv``, ``markdown``, ``comparison``, ``align_uniform``; ``colour_by``: see
    :func:`sweep_figures`; ``measured``: the results shown in results.md, see
    :func:`results_table`; results.csv has them all)."""
    runs = load_runs(root)
    if not runs:
        raise FileNotFoundError(f"no summary.json under {root}")
    out_dir = out_dir or root
    out_dir.mkdir(parents=True, exist_ok=True)
    metric = metric or default_metric(runs)
    written = {"csv": write_csv([run.row() for run in runs], out_dir / "results.csv")}
    written["markdown"] = out_dir / "results.md"
    written["markdown"].write_text(results_table(runs, metric, measured))
    for kind, figure in sweep_figures(runs, metric, colour_by).items():
        written[kind] = save_figure(figure, out_dir / FIGURE_FILES[kind])
    return written
