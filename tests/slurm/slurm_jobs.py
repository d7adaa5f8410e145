"""What the cluster tests do with a SLURM cluster: submit a sweep, follow and find its jobs,
signal and requeue them, read how often SLURM started them."""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra_runs import REPO


def node_count(environment: dict[str, str]) -> int:
    """The nodes of the cluster that take jobs."""
    nodes = subprocess.run(
        ["sinfo", "-h", "-N", "-t", "idle,mixed,allocated", "-o", "%N"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return len(set(nodes.stdout.split()))


def launch(arguments: list[str], environment: dict[str, str], log: Path) -> subprocess.Popen:
    """``python main_pretrain.py -m hydra/launcher=slurm <arguments>``, started; its output in
    ``log``."""
    with open(log, "w") as output:
        return subprocess.Popen(
            [sys.executable, REPO / "main_pretrain.py", "-m", "hydra/launcher=slurm", *arguments],
            cwd=REPO,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def finish(launcher: subprocess.Popen, log: Path, timeout: float = 600) -> int:
    """The launcher's exit status, once it has waited for its jobs."""
    try:
        return launcher.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        launcher.kill()
        launcher.wait()
        pytest.fail(f"the launcher did not end in {timeout} s:\n{log.read_text()[-3000:]}")


def wait_for(path: Path, launcher: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    """Wait until ``path`` exists (a job's progress), failing if the launcher ends first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if launcher.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{path} never appeared:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def job_id(sweep: Path, job_number: int) -> str:
    """SLURM's id of a sweep's job, from submitit's folder of it: ``<array>_<task>`` in a sweep
    of several jobs, the job's own id in one of a single job."""
    folders = list(sweep.glob(f".submitit/*_{job_number}")) or list(sweep.glob(".submitit/[0-9]*"))
    (folder,) = folders
    return folder.name


def job_errors(sweep: Path, lines: int = 15) -> str:
    """The last lines of each of a sweep's jobs' stderr (what a failure message needs when a job
    ended without a result)."""
    tails = [
        f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-lines:])
        for log in sorted(sweep.glob(".submitit/*/*_log.err"))
    ]
    return "\n".join(tails)


def slurm(environment: dict[str, str], *command: str) -> str:
    """Run a SLURM command (scontrol, scancel, ...); its output."""
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def restarts(environment: dict[str, str], job: str) -> int:
    """How often SLURM started a job again after a requeue (scripts/slurm's local cluster keeps
    ended jobs an hour; SLURM's default is 5 minutes)."""
    record = slurm(environment, "scontrol", "-o", "show", "job", job)
    return int(re.search(r"\bRestarts=(\d+)", record).group(1))
