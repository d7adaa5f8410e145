"""``hydra/launcher=slurm``: Hydra's submitit launcher, whose wait for the jobs ends on any
cluster.

submitit learns that a job ended without a result (killed, out of memory, cancelled) from
``sacct``. Where SLURM keeps no accounting, sacct fails, submitit goes on with the state unknown
and waits forever. This launcher asks ``squeue`` then: it lists a job while it is pending,
running or requeued, and for MinJobAge (5 minutes by default) after it ends; a job it no longer
lists has ended, and one that ended without a result ends the sweep with a line naming it. Its
settings are the submitit launcher's. The jobs that failed are noted for the line per failed job
that ends the sweep (:func:`hyperssl.cli.errors.note_failed_jobs`).
"""

import subprocess
from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from submitit.core.utils import UncompletedJobError
from submitit.slurm.slurm import SlurmInfoWatcher, SlurmJob

from hyperssl.cli.errors import SweepJobFailedError, note_failed_jobs
from hyperssl.errors import ConfigError

# What read_info names a job's fields, as sacct's header does.
FIELDS = "JobID|State|NodeList"
# The state of a job squeue no longer lists: not one of submitit's unfinished states.
ENDED = "ENDED"


def accounting_answers() -> bool:
    """Whether ``sacct`` answers (it fails where SLURM keeps no accounting)."""
    try:
        check = subprocess.run(["sacct", "-n", "-X", "-j", "1"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return check.returncode == 0


class QueueWatcher(SlurmInfoWatcher):
    """submitit's job-state watcher, reading ``squeue`` where ``sacct`` does not answer."""

    def __init__(self, delay_s: int = 60) -> None:
        super().__init__(delay_s)
        self._use_sacct: bool | None = None

    def _make_command(self) -> list[str] | None:
        command = super()._make_command()
        if command is None:
            return None
        if self._use_sacct is None:
            self._use_sacct = accounting_answers()
        if self._use_sacct:
            return command
        # Every job of this user, array tasks one a line: squeue refuses a list holding an id it
        # has forgotten.
        return ["squeue", "--me", "--noheader", "--array", "--states=all", "--format=%i|%T|%N"]

    def read_info(self, string: bytes | str) -> dict[str, dict[str, str]]:
        if self._use_sacct:
            return super().read_info(string)
        text = string.decode() if isinstance(string, bytes) else string
        listed = super().read_info(f"{FIELDS}\n{text}")
        ended = {"State": ENDED, "JobID": "", "NodeList": ""}
        return {job: listed.get(job, ended) for job in self._registered} | listed


# The sbatch counts the presets take from the trainer (trainer.devices=-1, "every GPU", is none).
COUNTS = {
    "nodes": "trainer.num_nodes",
    "tasks_per_node": "trainer.devices",
    "gpus_per_node": "trainer.devices",
}


def check_counts(params: dict[str, Any]) -> None:
    """One line, before anything is submitted, for a count sbatch would refuse."""
    for key, source in COUNTS.items():
        value = params.get(key)
        if value is not None and not (isinstance(value, int) and value >= 1):
            raise ConfigError(
                f"hydra.launcher.{key}",
                f"got {value!r} (from {source} unless set)",
                f"a count >= 1 of each node's GPUs or processes: set {source} to one",
            )


class QueueWatchingSlurmLauncher(SlurmLauncher):
    """Hydra's submitit SLURM launcher with :class:`QueueWatcher` as its jobs' watcher, whose
    counts are checked before submission."""

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        check_counts(self.params)
        # submitit reads the watcher off its job class; hand-written because submitit has no
        # setting for it.
        SlurmJob.watcher = QueueWatcher()
        try:
            returns = super().launch(job_overrides, initial_job_idx)
        except UncompletedJobError as lost:
            # "Job <id> (task: 0) with path <result>\nhas not produced any output (state: ...)",
            # then the job's stderr: the first two lines, as one.
            raise SweepJobFailedError(" ".join(str(lost).splitlines()[:2])) from lost
        note_failed_jobs(returns)
        return returns
