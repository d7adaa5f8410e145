"""Two runs in one run directory: the first claims it for its life (a flock on ``<run dir>/.lock``),
the second, started while the first trains, gets one line and exit status 2 and touches nothing;
``resume=auto`` of a run whose process is alive is refused the same way."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra_runs import REPO, read_metrics, run_entry
from paused_runs import HARNESS, environment
from test_sigkill import RUN

from hyperssl.cli.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED
from hyperssl.cli.run_claim import claim_run_dir, release_run_dir
from hyperssl.errors import ConfigError


def contents(folder: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> dict:
    """The first run paused after step 1 (holding the run dir), a second run and a resume=auto
    started meanwhile; then the first is stopped with SIGTERM."""
    root = tmp_path_factory.mktemp("claim")
    run_dir = root / "run"
    marker = root / "paused"
    arguments = ["pause=1", str(marker), *RUN, f"hydra.run.dir={run_dir}"]
    with open(root / "first.log", "w") as log:
        first = subprocess.Popen(
            [sys.executable, str(HARNESS), *arguments],
            cwd=REPO,
            env=environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 180
    while not marker.exists():
        if first.poll() is not None or time.monotonic() > deadline:
            first.kill()
            first.wait()
            pytest.fail(f"the first run never paused:\n{(root / 'first.log').read_text()[-3000:]}")
        time.sleep(0.05)
    before = contents(run_dir)
    second = run_entry("main_pretrain.py", [*RUN, f"hydra.run.dir={run_dir}"])
    resumed = run_entry("main_pretrain.py", [*RUN, "resume=auto", f"hydra.run.dir={run_dir}"])
    after = contents(run_dir)
    first.send_signal(signal.SIGTERM)
    return {
        "run_dir": run_dir,
        "pid": first.pid,
        "first_status": first.wait(timeout=120),
        "second": second,
        "resumed": resumed,
        "unchanged": before == after,
    }


def refusal(run_dir: Path, pid: int) -> str:
    return (
        f"error: hydra.run.dir: {run_dir} is in use by a running run (pid {pid}); allowed: a new "
        "directory, or the same one once that run has ended\n"
    )


def test_a_second_run_in_a_run_dir_in_use_exits_2_with_one_line(two_runs):
    second = two_runs["second"]
    assert (second.returncode, second.stderr) == (
        EXIT_BAD_INPUT,
        refusal(two_runs["run_dir"], two_runs["pid"]),
    )


def test_resume_auto_of_a_run_whose_process_is_alive_is_refused(two_runs):
    resumed = two_runs["resumed"]
    assert (resumed.returncode, resumed.stderr) == (
        EXIT_BAD_INPUT,
        refusal(two_runs["run_dir"], two_runs["pid"]),
    )


def test_the_refused_runs_touch_nothing_of_the_first(two_runs):
    assert two_runs["unchanged"]


def test_the_first_run_trains_on_alone(two_runs):
    assert two_runs["first_status"] == EXIT_INTERRUPTED
    steps = [int(row["step"]) for row in read_metrics(two_runs["run_dir"]) if row["train/loss"]]
    assert steps == [0]  # one row for the one step it trained: not doubled


def test_a_claim_is_released_for_the_next_run(tmp_path):
    claim_run_dir(tmp_path)
    release_run_dir(tmp_path)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path;"
            "from hyperssl.cli.run_claim import claim_run_dir; claim_run_dir(Path(sys.argv[1]))",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, probe.stderr


def test_a_claim_of_a_dead_process_is_no_claim(tmp_path):
    """The kernel drops a flock when its holder dies, however it dies."""
    holder = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys; from pathlib import Path;"
            "from hyperssl.cli.run_claim import claim_run_dir; claim_run_dir(Path(sys.argv[1]));"
            "os.kill(os.getpid(), 9)",
            str(tmp_path),
        ],
    )
    assert holder.returncode == -signal.SIGKILL
    claim_run_dir(tmp_path)
    release_run_dir(tmp_path)


def test_a_live_claim_elsewhere_is_refused(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path;"
            "from hyperssl.cli.run_claim import claim_run_dir; claim_run_dir(Path(sys.argv[1]));"
            "print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(ConfigError, match=rf"in use by a running run \(pid {holder.pid}\)"):
            claim_run_dir(tmp_path)
    finally:
        holder.kill()
        holder.wait()
