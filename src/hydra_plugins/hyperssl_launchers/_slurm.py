"""``hydra/launcher=slurm``: Hydra's submitit launcher, whose wait for the jobs ends on any
cluster.

submitit learns that a job ended without a result (killed, out of memory, cancelled) from
``sacct``. Where SLURM keeps no accounting, sacct fails, submitit goes on with the state unknown
and waits forever. This launcher asks ``squeue`` then: it lists a job while it is pending,
running or requeued, and for MinJobAge (5 minutes by default) after it ends; a job it no longer
lists has ended, and one that ended without a result ends the sweep with a line naming it. Its
settings are the submitit launcher's. The jobs that failed are noted for the line per failed job
that ends the sweep (:func:`hyperssl.cli.errors.note_failed_jobs`).

A job of this launcher also keeps submitit's requeue signal from the moment it starts
unpickling (:class:`RequeueSignalRecorder`).

Hydra registers the launcher through :mod:`.slurm`, which imports this module only where the
slurm extra is installed; Hydra's plugin scan skips modules whose names start with ``_``.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence
from types import FrameType
from typing import Any

from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from submitit.core.job_environment import JobEnvironment
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


class RequeueSignalRecorder:
    """Records submitit's requeue signal (SIGUSR2 unless ``SUBMITIT_PREEMPT_SIGNAL`` names
    another) while a job is unpickled, and replays it once submitit's own handler is in place.

    submitit unpickles a job before it installs its handlers, and a job of this launcher holds
    Hydra's state and config, whose schemas import torch and Lightning: 5 s on a quiet 2-core
    machine, several times that on a busy one. SLURM sends its time-limit warning up to 30 s
    early (it checks every 30 s; a 1-minute job got it 22 s after its process started), so with
    a short limit, or a pre-emption signalled as a job starts, the signal's default action ended
    the job: neither saved nor requeued, state FAILED. Unpickling this object (first, see
    :meth:`QueueWatchingSlurmLauncher.__reduce__`) installs the recorder.
    """

    def __init__(self) -> None:
        self.received: int | None = None

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (RequeueSignalRecorder.installed, ())

    @classmethod
    def installed(cls) -> RequeueSignalRecorder:
        recorder = cls()
        signal.signal(JobEnvironment._usr_sig(), recorder._record)
        return recorder

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum

    def replay(self) -> None:
        """Send the recorded signal again, now to the handler in place (submitit's)."""
        if self.received is not None:
            signal.raise_signal(self.received)


def unpickled_launcher(
    recorder: RequeueSignalRecorder,
    launcher_class: type[QueueWatchingSlurmLauncher],
    state: dict[str, Any],
) -> QueueWatchingSlurmLauncher:
    launcher = launcher_class.__new__(launcher_class)
    launcher.__dict__.update(state, requeue_signal=recorder)
    return launcher


class QueueWatchingSlurmLauncher(SlurmLauncher):
    """Hydra's submitit SLURM launcher with :class:`QueueWatcher` as its jobs' watcher, whose
    counts are checked before submission, and whose jobs replay a requeue signal received while
    they were unpickled (:class:`RequeueSignalRecorder`)."""

    requeue_signal: RequeueSignalRecorder | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # submitit pickles a job's function (this launcher) before its arguments, and pickle
        # loads a tuple in order: the recorder is installed before the launcher's config and the
        # job's arguments (Hydra's state) import anything.
        state = {key: value for key, value in vars(self).items() if key != "requeue_signal"}
        return (unpickled_launcher, (RequeueSignalRecorder(), type(self), state))

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        if self.requeue_signal is not None:
            self.requeue_signal.replay()
        return super().__call__(*args, **kwargs)

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
