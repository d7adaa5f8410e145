"""Distributed jobs on a real SLURM cluster (tests/slurm/conftest.py): one Lightning process per
SLURM task trains one model, whether the tasks share a node or sit on two (emulated) nodes whose
names do not resolve; tasks that do not match the trainer are refused in one line.

The three launchers run side by side; the cluster queues what does not fit.
"""

import json
from pathlib import Path

import pytest
from hydra_runs import TINY
from slurm_jobs import finish, job_id, launch, node_count

from hyperssl.cli.errors import EXIT_SWEEP_JOBS_FAILED

# Two processes of gloo DDP on CPUs; TINY's 3 batches a rank.
DDP = [*TINY, "trainer=ddp", "trainer.accelerator=cpu", "trainer.precision=32-true"]
DDP.append("knn.enabled=false")
LAUNCHES = {
    "one_node": [*DDP, "trainer.devices=2"],
    "two_nodes": [*DDP, "trainer.devices=1", "trainer.num_nodes=2"],
    # Two tasks for a one-process trainer: each would train its own copy into the same folder.
    "mismatch": [*TINY, "hydra.launcher.tasks_per_node=2"],
}


def job_log(sweep: Path, task: int) -> str:
    """What a task of the sweep's job 0 wrote to stderr (submitit's log of it)."""
    job = job_id(sweep, 0)
    return (sweep / ".submitit" / job / f"{job}_{task}_log.err").read_text()


@pytest.fixture(scope="module")
def distributed(slurm_environment, tmp_path_factory) -> dict:
    if node_count(slurm_environment) < 2:
        pytest.skip("the cluster has one node (start_local_cluster.sh --nodes 2 gives two)")
    root = tmp_path_factory.mktemp("distributed")
    launchers = {
        name: launch(
            [*arguments, f"hydra.sweep.dir={root / name}"], slurm_environment, root / f"{name}.log"
        )
        for name, arguments in LAUNCHES.items()
    }
    return {
        name: {
            "status": finish(launcher, root / f"{name}.log"),
            "log": (root / f"{name}.log").read_text(),
            "sweep": root / name,
        }
        for name, launcher in launchers.items()
    }


@pytest.mark.parametrize("name", ["one_node", "two_nodes"])
def test_two_tasks_train_one_model_as_two_ddp_ranks(distributed, name):
    job = distributed[name]
    assert job["status"] == 0, job["log"][-3000:]
    (run_dir,) = [path.parent for path in job["sweep"].glob("*/summary.json")]
    summary = json.loads((run_dir / "summary.json").read_text())
    # Each rank trains its 3 batches in the same 3 steps: one model.
    assert summary["global_step"] == 3
    assert "Starting with 2 processes" in job_log(job["sweep"], 0)
    assert "MEMBER: 2/2" in job_log(job["sweep"], 1)


def test_tasks_that_do_not_match_the_trainer_are_refused_in_one_line(distributed):
    job = distributed["mismatch"]
    assert job["status"] == EXIT_SWEEP_JOBS_FAILED
    errors = [line for line in job["log"].splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, job["log"][-3000:]
    assert errors[0].endswith(
        "trainer.devices: got 1; allowed: 2 (this job's tasks per node, "
        "hydra.launcher.tasks_per_node)"
    )
    assert not list(job["sweep"].glob("*/checkpoints"))
