"""A sweep through ``hydra/launcher=slurm`` runs as jobs of a real SLURM cluster on this machine
(tests/slurm/conftest.py) and is collected."""

import csv

from hydra_runs import TINY, run_entry


def test_a_two_job_sweep_runs_as_slurm_jobs_and_is_collected(slurm_environment, tmp_path):
    sweep = tmp_path / "sweep"
    launcher = run_entry(
        "main_pretrain.py",
        [
            "-m",
            "hydra/launcher=slurm",
            *TINY,
            "geometry=cosine,geodesic",
            f"hydra.sweep.dir={sweep}",
        ],
        timeout=600,
        environment=slurm_environment,
    )
    assert launcher.returncode == 0, launcher.stderr[-3000:]
    # submitit's record of each job (<SLURM job id>_<job number>/): both ran under slurmctld.
    assert len(list(sweep.glob(".submitit/*_[01]/*_result.pkl"))) == 2
    assert len(list(sweep.glob("*/summary.json"))) == 2

    collected = run_entry("scripts/collect_results.py", [str(sweep)], environment=slurm_environment)
    assert collected.returncode == 0, collected.stderr[-3000:]
    with open(sweep / "results.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted(row["geometry"] for row in rows) == ["cosine", "geodesic"]
    assert all(row["global_step"] == "3" for row in rows), rows
