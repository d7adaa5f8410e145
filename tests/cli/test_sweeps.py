"""Hydra multirun through the entry point, the results collector, and the launcher presets."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra_runs import REPO, TINY, run_entry


def test_a_2x2_multirun_gives_one_directory_per_run_and_a_4_row_table(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_entry(
        "main_pretrain.py",
        [
            "-m",
            *TINY,
            "geometry=cosine,geodesic",
            "heads=[],[uniformity]",
            f"hydra.sweep.dir={sweep}",
        ],
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = sorted(path.parent for path in sweep.glob("*/summary.json"))
    assert len(runs) == 4
    # Named by their overrides (shortened with a hash when the command line is long).
    assert all(run.name.split("_", 1)[1].startswith("backbone.kwargs.width=8") for run in runs)
    assert len({run.name for run in runs}) == 4

    collected = run_entry("scripts/collect_results.py", [str(sweep)])
    assert collected.returncode == 0, collected.stderr
    with open(sweep / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    # Each row carries its run's overrides, read from the .hydra/ record the entry point writes.
    overrides = sorted(row["overrides"] for row in rows)
    assert len(set(overrides)) == 4 and all("geometry=" in o for o in overrides), overrides


def test_the_objectives_sweep_tables_knn_and_the_diagnostics_of_each_run(tmp_path):
    """scripts/sweeps/digits_heads.sh, tiny: SimCLR's own objective and DCLW (which replaces it)
    with the t-vMF geometry, tabled by collect_results.py."""
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GEOMETRIES": "tvmf",
        "OVERRIDES": " ".join(TINY),
    }
    result = subprocess.run(
        ["bash", "scripts/sweeps/digits_heads.sh", str(tmp_path), "nt_xent", "dclw"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header[-6:] == [
        "knn_top1",
        "val/alignment",
        "val/uniformity",
        "val/wasserstein_uniformity",
        "val/effective_rank",
        "val/rankme",
    ]
    rows = {row.split("|")[1].strip(): row for row in table[1:]}
    assert set(rows) == {"dclw/tvmf/seed5", "nt_xent/tvmf/seed5"}
    assert "| 0 |" in rows["dclw/tvmf/seed5"]  # method.objective_weight: NT-Xent switched off


@pytest.mark.parametrize(
    "override,expected",
    [
        ("hydra/launcher=slurm", "SlurmLauncher"),
        ("hydra/launcher=local_parallel", "JoblibLauncher"),
        ("hydra/sweeper=optuna_temperature", "OptunaSweeper"),
    ],
)
def test_launcher_and_sweeper_presets_compose(override, expected):
    result = run_entry("main_pretrain.py", [override, "--cfg", "hydra"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert expected in result.stdout
