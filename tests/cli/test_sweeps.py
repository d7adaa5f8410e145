"""Hydra multirun through the entry point, the results collector, and the launcher presets."""

import csv

import pytest
from hydra_runs import TINY, run_entry


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
