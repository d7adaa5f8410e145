"""Signal an entry point run paused after a known step (``tests/kill_harness.py pause=<n>``), as
SLURM or a terminal's Ctrl-C would: to the run's whole process group, its data workers included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra_runs import REPO

HARNESS = Path(__file__).resolve().parent / "kill_harness.py"


def environment() -> dict[str, str]:
    """One intra-op thread: runs this small gain nothing from more, and on a loaded machine
    OpenMP's spinning threads double their time."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    return env


def signal_paused_run(
    entry: str, step: int, signum: signal.Signals, arguments: list[str], log: Path
) -> tuple[int, str]:
    """Start ``python <entry> <arguments>`` paused after ``step``, send it ``signum``; its exit
    status and stderr (its stdout goes to ``log``)."""
    marker = log.with_suffix(".paused")
    harness = [f"--entry={entry}", f"pause={step}", str(marker), *arguments]
    with open(log, "w") as stdout, open(log.with_suffix(".stderr"), "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(HARNESS), *harness],
            cwd=REPO,
            env=environment(),
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    deadline = time.monotonic() + 180
    while not marker.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            output = log.with_suffix(".stderr").read_text()[-3000:]
            pytest.fail(f"the run never reached step {step}:\n{output}")
        time.sleep(0.05)
    os.killpg(process.pid, signum)
    return process.wait(timeout=120), log.with_suffix(".stderr").read_text()
