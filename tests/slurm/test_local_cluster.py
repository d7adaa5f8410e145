"""A sweep through ``hydra/launcher=slurm`` runs as jobs of a real SLURM cluster on this machine
(tests/slurm/conftest.py) and is collected."""

import csv
import subprocess
import sys

from hydra_runs import REPO, TINY


def test_a_two_job_sweep_runs_as_slurm_jobs_and_is_collected(slurm_environment, tmp_path):
    sweep = tmp_path / "sweep"
    launcher = subprocess.run(
        [sys.executable, REPO / "main_pretrain.py", "-m", "hydra/launcher=slurm", *TINY]
        + ["geometry=cosine,geodesic", f"hydra.sweep.dir={sweep}"],
        cwd=REPO,
        env=slurm_environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert launcher.returncode == 0, launcher.stderr[-3000:]
    # submitit's record of each job (<SLURM job id>_<job number>/): both ran under slurmctld.
    assert len(list(sweep.glob(".submitit/*_[01]/*_result.pkl"))) == 2
    assert len(list(sweep.glob("*/summary.json"))) == 2

    collected = subprocess.run(
        [sys.executable, REPO / "scripts" / "collect_results.py", sweep],
        cwd=REPO,
        env=slurm_environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stderr[-3000:]
    with open(sweep / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted(row["geometry"] for row in rows) == ["cosine", "geodesic"]
    assert all(row["global_step"] == "3" for row in rows), rows
