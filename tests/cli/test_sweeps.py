"""Hydra multirun through the entry point, the results collector, and the launcher presets."""

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra_runs import REPO, TINY, run_entry, run_entry_cases

from hyperssl.config import short_dir_name


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


PRESETS = {
    "hydra/launcher=slurm": "SlurmLauncher",
    "hydra/launcher=local_parallel": "LocalParallelLauncher",
    "hydra/sweeper=optuna_temperature": "OptunaSweeper",
}


@pytest.fixture(scope="module")
def composed_presets():
    # Case names become file names: the expected class names, not the overrides.
    cases = {expected: [override, "--cfg", "hydra"] for override, expected in PRESETS.items()}
    return run_entry_cases("main_pretrain.py", cases)


@pytest.mark.parametrize("override", PRESETS)
def test_launcher_and_sweeper_presets_compose(override, composed_presets):
    result = composed_presets[PRESETS[override]]
    assert result.returncode == 0, result.stderr[-3000:]
    assert PRESETS[override] in result.stdout


def file_hashes(root: Path) -> dict[Path, str]:
    return {
        path: hashlib.sha1(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file()
    }


def test_no_override_value_puts_a_job_outside_multirun(tmp_path):
    """``name`` (in the sweep directory's name and in each job's) swept over a relative path that
    climbs out and an absolute one: each job stays at multirun/<name>/<time>/<job>/."""
    cwd = tmp_path / "a" / "b" / "c"
    cwd.mkdir(parents=True)
    (tmp_path / "a" / "earlier_result.txt").write_text("kept")
    before = file_hashes(tmp_path)
    # The tiny-run settings are left out of the job names, so that the swept value is not cut off.
    tiny_keys = ",".join(override.split("=")[0] for override in TINY)
    result = run_entry(
        "main_pretrain.py",
        [
            "-m",
            *TINY,
            f"hydra.job.config.override_dirname.exclude_keys=[{tiny_keys}]",
            f"name=../../../escaped,{tmp_path / 'elsewhere'}",
        ],
        cwd=cwd,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    multirun = cwd / "multirun"
    runs = sorted(path.parent for path in tmp_path.rglob("summary.json"))
    assert len(runs) == 2
    for run in runs:
        name, _, job = run.relative_to(multirun).parts
        assert job.startswith(("0_name=", "1_name=")), job
        for part in (name, job):
            assert "/" not in part and ".." not in part and part[0] not in ".-", part
    created_elsewhere = {
        path: digest
        for path, digest in file_hashes(tmp_path).items()
        if not path.is_relative_to(multirun)
    }
    assert created_elsewhere == before


def test_a_job_subdir_leading_out_of_the_sweep_fails_alone_and_touches_no_run(tmp_path):
    """``hydra.sweep.subdir`` climbing out of the sweep onto an earlier run's directory: the job
    is refused in one line, the earlier run is left as it was."""
    earlier = tmp_path / "earlier_run"
    earlier.mkdir()
    (earlier / "summary.json").write_text('{"knn_top1": 90.0}\n')
    before = file_hashes(earlier)
    result = run_entry(
        "main_pretrain.py",
        [
            "-m",
            *TINY,
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
            "hydra.sweep.subdir=../earlier_run",
            "seed=5",
        ],
        timeout=600,
    )
    assert result.returncode == 4, result.stderr[-3000:]
    assert "hydra.sweep.subdir: '../earlier_run' puts the job at" in result.stderr
    assert "Traceback" not in result.stderr
    after = file_hashes(earlier)
    assert {path: after.get(path) for path in before} == before
    assert not (earlier / ".lock").exists()  # never claimed


def test_side_by_side_sweep_runs_its_jobs_with_dataloader_workers(tmp_path):
    """The README's ``hydra/launcher=local_parallel``: both jobs train with a DataLoader worker
    (joblib's workers once failed to start theirs)."""
    sweep = tmp_path / "sweep"
    tiny = [override for override in TINY if not override.startswith("data.num_workers")]
    result = run_entry(
        "main_pretrain.py",
        [
            "-m",
            "hydra/launcher=local_parallel",
            *tiny,
            "data.num_workers=1",
            "trainer.limit_train_batches=2",
            "seed=1,2",
            f"hydra.sweep.dir={sweep}",
        ],
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summaries = sorted(sweep.glob("*/summary.json"))
    assert [path.parent.name.split("_")[0] for path in summaries] == ["0", "1"]
    assert [json.loads(path.read_text())["global_step"] for path in summaries] == [2, 2]


@pytest.mark.parametrize(
    "value,expected",
    [
        ("geometry=geodesic,heads=[uniformity,mhe],optimizer.lr=1e-3", None),  # kept as typed
        ("name=../../x", "name=____x"),
        ("/tmp/abs", "_tmp_abs"),
        (".hidden", "_hidden"),
        ("-rf", "_rf"),
        ("a\nb\tc\x1bd e", "a_b_c_d_e"),
        ("C:\\runs\\a", "C:_runs_a"),
    ],
)
def test_a_directory_name_has_no_separator_no_dots_and_no_control_character(value, expected):
    assert short_dir_name(value) == (value if expected is None else expected)


@pytest.mark.parametrize("character", ["x", "é", "漢"])
def test_a_long_directory_name_is_cut_under_120_bytes_with_a_hash_of_the_whole(character):
    long, longer = character * 200, character * 201
    assert len(short_dir_name(long).encode()) <= 120
    assert short_dir_name(long) != short_dir_name(longer)
