"""Distributed jobs on a real SLURM cluster (tests/slurm/conftest.py): one Lightning process per
SLURM task trains one model, whether the tasks share a node or sit on two (emulated) nodes whose
names do not resolve; a 2-process job requeued mid-epoch ends with the weights of its
uninterrupted twin; tasks that do not match the trainer are refused in one line.

The launchers run side by side; the cluster queues what does not fit.
"""

import json
import time
from pathlib import Path

import pytest
import torch
from hydra_runs import TINY
from safetensors.torch import load_file
from slurm_jobs import finish, job_id, launch, node_count, restarts, slurm, wait_for

from hyperssl.cli.errors import EXIT_SWEEP_JOBS_FAILED

# Two processes of gloo DDP on CPUs; TINY's 3 batches a rank.
DDP = [*TINY, "trainer=ddp", "trainer.accelerator=cpu", "trainer.precision=32-true"]
DDP.append("knn.enabled=false")
LAUNCHES = {
    "two_nodes": [*DDP, "trainer.devices=1", "trainer.num_nodes=2"],
    # Two tasks for a one-process trainer: each would train its own copy into the same folder.
    "mismatch": [*TINY, "hydra.launcher.tasks_per_node=2"],
    # Twins of 2 epochs of 11 steps (1437 digits, 2 ranks of 64 a step); job 1 is requeued in
    # its second epoch.
    "requeued": [*DDP, "trainer.devices=2", "trainer.max_epochs=2", "optimizer.batch_size=64"]
    + ["backbone.kwargs.width=32", "trainer.limit_train_batches=null", "resume=auto"]
    + ["seed=5,5", "hydra.sweep.subdir=${hydra.job.num}"],
}
REQUEUED_STEPS_PER_EPOCH = 11
REQUEUED_EPOCHS = 2
# Two tasks training one model: on one node, the requeued sweep's uninterrupted twin (job 0), 11
# steps an epoch where one process alone would take 22; on two nodes, TINY's 3 batches a rank
# in 3 steps.
ONE_MODEL = {
    "one_node": ("requeued", REQUEUED_EPOCHS * REQUEUED_STEPS_PER_EPOCH),
    "two_nodes": ("two_nodes", 3),
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
    # Once epoch 0 of job 1 is saved, and epoch 1 under way: mid-epoch.
    twin = root / "requeued" / "1"
    wait_for(twin / "checkpoints" / "last.ckpt", launchers["requeued"], root / "requeued.log")
    time.sleep(1.5)
    slurm(slurm_environment, "scontrol", "requeue", job_id(root / "requeued", 1))
    return {
        name: {
            "status": finish(launcher, root / f"{name}.log"),
            "log": (root / f"{name}.log").read_text(),
            "sweep": root / name,
            "restarts": restarts(slurm_environment, job_id(root / name, 1))
            if name == "requeued"
            else None,
        }
        for name, launcher in launchers.items()
    }


@pytest.mark.parametrize("name", sorted(ONE_MODEL))
def test_two_tasks_train_one_model_as_two_ddp_ranks(distributed, name):
    launch, steps = ONE_MODEL[name]
    job = distributed[launch]
    assert job["status"] == 0, job["log"][-3000:]
    (run_dir,) = [path.parent for path in job["sweep"].glob("0*/summary.json")]  # job 0's
    summary = json.loads((run_dir / "summary.json").read_text())
    # Each rank trains its share of the batches in the same steps: one model.
    assert summary["global_step"] == steps
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


def test_a_ddp_job_requeued_mid_epoch_ends_with_its_uninterrupted_twins_weights(distributed):
    job = distributed["requeued"]
    assert job["status"] == 0, job["log"][-3000:]
    assert job["restarts"] >= 1
    twin = job["sweep"] / "1"
    summary = json.loads((twin / "summary.json").read_text())
    assert summary["resumed_from"] == str(twin / "checkpoints" / "interrupted.ckpt")
    interrupted = torch.load(
        twin / "checkpoints" / "interrupted.ckpt", map_location="cpu", weights_only=True
    )
    assert interrupted["global_step"] % REQUEUED_STEPS_PER_EPOCH != 0
    assert summary["global_step"] == REQUEUED_EPOCHS * REQUEUED_STEPS_PER_EPOCH
    uninterrupted = load_file(job["sweep"] / "0" / "backbone.safetensors")
    resumed = load_file(twin / "backbone.safetensors")
    assert [name for name in resumed if not torch.equal(resumed[name], uninterrupted[name])] == []
