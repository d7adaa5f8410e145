"""Jobs of a real SLURM cluster (tests/slurm/conftest.py) stopped mid-epoch come back in their run
directory, continue from the step they stopped at, and the ``-m`` launcher waits for them and
exits 0.

Two sweeps run side by side, with views made per image by two DataLoader workers (the processes
SLURM signals with the job's own):

- three identical jobs: job 0 runs through; job 1 is requeued by ``scontrol requeue`` (SIGTERM
  to every process, SLURM requeues); job 2 gets SIGUSR2, the signal submitit asks SLURM to send
  before a time limit (``--signal=USR2@<signal_delay_s>``), and submitit requeues it once the
  step is saved. Both end with weights ``torch.equal`` to job 0's.
- one job with a one-minute time limit and two to four times that much training: SLURM's own
  warning signal stops it, as often as it takes, and it ends with every step trained.
"""

import json
import time
from pathlib import Path

import pytest
import torch
from hydra_runs import TINY
from safetensors.torch import load_file
from slurm_jobs import finish, job_errors, job_id, launch, restarts, slurm, wait_for

# 11 steps an epoch (1437 digits, batches of 128), a few seconds each.
STEPS_PER_EPOCH = 11
RUN = [
    *TINY,
    "backbone.kwargs.width=32",
    "optimizer.batch_size=128",
    "trainer.limit_train_batches=null",
    "trainer.limit_val_batches=1",
    "data.augment_on=workers",
    "data.num_workers=2",
    "knn.enabled=false",
    "resume=auto",
    "hydra.sweep.subdir=${hydra.job.num}",
]
REQUEUED_EPOCHS = 2
# About 2 to 4 one-minute starts on 2 cores.
TIME_LIMITED_EPOCHS = 8


def interrupted_step(run_dir: Path) -> int:
    checkpoint = torch.load(
        run_dir / "checkpoints" / "interrupted.ckpt", map_location="cpu", weights_only=True
    )
    return checkpoint["global_step"]


@pytest.fixture(scope="module")
def requeued(slurm_environment, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("requeue")
    sweeps = {"signalled": root / "signalled", "time_limit": root / "time_limit"}
    logs = {name: root / f"{name}.log" for name in sweeps}
    launchers = {
        "signalled": launch(
            [*RUN, f"trainer.max_epochs={REQUEUED_EPOCHS}", "seed=5,5,5"]
            + [f"hydra.sweep.dir={sweeps['signalled']}"],
            slurm_environment,
            logs["signalled"],
        ),
        "time_limit": launch(
            [*RUN, f"trainer.max_epochs={TIME_LIMITED_EPOCHS}", "seed=5"]
            + ["hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=10"]
            + [f"hydra.sweep.dir={sweeps['time_limit']}"],
            slurm_environment,
            logs["time_limit"],
        ),
    }
    sweep, launcher, log = sweeps["signalled"], launchers["signalled"], logs["signalled"]
    # Once epoch 0 of jobs 1 and 2 is saved, and epoch 1 under way: mid-epoch.
    for job in (1, 2):
        wait_for(sweep / str(job) / "checkpoints" / "last.ckpt", launcher, log)
    time.sleep(1.5)
    slurm(slurm_environment, "scontrol", "requeue", job_id(sweep, 1))
    slurm(slurm_environment, "scancel", "--signal=USR2", job_id(sweep, 2))

    status, restart_counts = {}, {}
    for name, path in sweeps.items():  # each sweep's counts as soon as its jobs have ended
        status[name] = finish(launchers[name], logs[name])
        restart_counts[name] = [
            restarts(slurm_environment, job_id(path, job))
            for job in range(3 if name == "signalled" else 1)
        ]
    return {
        "status": status,
        "logs": {name: log.read_text() + job_errors(sweeps[name]) for name, log in logs.items()},
        "sweeps": sweeps,
        "restarts": restart_counts,
    }


@pytest.mark.parametrize("sweep", ["signalled", "time_limit"])
def test_the_launcher_waits_for_requeued_jobs_and_exits_0(requeued, sweep):
    assert requeued["status"][sweep] == 0, requeued["logs"][sweep][-6000:]


def test_each_signalled_job_was_started_again_by_slurm(requeued):
    assert requeued["restarts"]["signalled"][0] == 0
    assert requeued["restarts"]["signalled"][1] >= 1
    assert requeued["restarts"]["signalled"][2] >= 1


@pytest.mark.parametrize("job", [1, 2])
def test_a_requeued_job_continues_mid_epoch_from_its_interrupt_checkpoint(requeued, job):
    run_dir = requeued["sweeps"]["signalled"] / str(job)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["resumed_from"] == str(run_dir / "checkpoints" / "interrupted.ckpt")
    assert summary["global_step"] == REQUEUED_EPOCHS * STEPS_PER_EPOCH
    assert interrupted_step(run_dir) % STEPS_PER_EPOCH != 0
    assert not list(run_dir.rglob("hpc_ckpt_*.ckpt"))


@pytest.mark.parametrize("job", [1, 2])
def test_a_requeued_job_ends_with_the_uninterrupted_jobs_weights(requeued, job):
    sweep = requeued["sweeps"]["signalled"]
    uninterrupted = load_file(sweep / "0" / "backbone.safetensors")
    resumed = load_file(sweep / str(job) / "backbone.safetensors")
    assert resumed.keys() == uninterrupted.keys()
    assert [name for name in resumed if not torch.equal(resumed[name], uninterrupted[name])] == []


def test_a_job_past_its_time_limit_is_requeued_until_it_has_trained_every_step(requeued):
    run_dir = requeued["sweeps"]["time_limit"] / "0"
    summary = json.loads((run_dir / "summary.json").read_text())
    checkpoints = run_dir / "checkpoints"
    assert requeued["restarts"]["time_limit"][0] >= 1
    # The warning signal was caught mid-training and saved at least once.
    assert (checkpoints / "interrupted.ckpt").is_file()
    # The last start resumed from the newest checkpoint: interrupted.ckpt, or last.ckpt when the
    # last signal came at an epoch's end (a tie goes to last.ckpt) or before training began.
    assert summary["resumed_from"] in {
        str(checkpoints / name) for name in ("interrupted.ckpt", "last.ckpt")
    }
    assert summary["global_step"] == TIME_LIMITED_EPOCHS * STEPS_PER_EPOCH
