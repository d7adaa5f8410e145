"""The SLURM launcher without a cluster: where SLURM keeps no accounting it reads its jobs' states
from squeue (its output given as text), and a job squeue no longer lists has ended; a count
sbatch would refuse is one line before anything is submitted."""

import pytest
from hydra_runs import run_entry

from hyperssl.cli.errors import EXIT_BAD_INPUT

slurm = pytest.importorskip(
    "hydra_plugins.hyperssl_launchers._slurm", reason='pip install "hyperssl[slurm]"'
)


def squeue_watcher(monkeypatch, *jobs: str) -> slurm.QueueWatcher:
    monkeypatch.setattr(slurm, "accounting_answers", lambda: False)
    watcher = slurm.QueueWatcher()
    for job in jobs:
        watcher.register_job(job)
    return watcher


def test_without_accounting_the_states_come_from_squeue_for_every_job_of_the_user(monkeypatch):
    watcher = squeue_watcher(monkeypatch, "12_0")
    assert watcher._make_command()[:2] == ["squeue", "--me"]


def test_with_accounting_the_states_come_from_sacct(monkeypatch):
    monkeypatch.setattr(slurm, "accounting_answers", lambda: True)
    watcher = slurm.QueueWatcher()
    watcher.register_job("12_0")
    assert watcher._make_command()[0] == "sacct"


def test_listed_jobs_keep_their_state_and_unlisted_ones_have_ended(monkeypatch):
    watcher = squeue_watcher(monkeypatch, "12_0", "12_1", "12_2", "13")
    watcher._make_command()
    listed = "12_0|RUNNING|n1\n12_1|PENDING|\n13|COMPLETED|n2\n99|RUNNING|n1\n"
    states = {job: info["State"] for job, info in watcher.read_info(listed).items()}
    assert states["12_0"] == "RUNNING" and states["12_1"] == "PENDING"
    assert states["13"] == "COMPLETED"
    assert states["12_2"] == slurm.ENDED
    watcher._info_dict.update(watcher.read_info(listed))
    assert not watcher.is_done("12_1", mode="cache")
    assert watcher.is_done("12_2", mode="cache")


def test_every_gpu_is_refused_before_anything_is_submitted(tmp_path):
    """``slurm_gpu`` with ``trainer.devices=-1`` (every GPU): one line, exit 2, no sbatch."""
    result = run_entry(
        "main_pretrain.py",
        ["-m", "hydra/launcher=slurm_gpu", "trainer=ddp", f"hydra.sweep.dir={tmp_path}"],
    )
    assert result.returncode == EXIT_BAD_INPUT
    assert result.stderr.strip().splitlines()[-1] == (
        "error: hydra.launcher.tasks_per_node: got -1 (from trainer.devices unless set); "
        "allowed: a count >= 1 of each node's GPUs or processes: set trainer.devices to one"
    )
    assert not (tmp_path / ".submitit").exists()
