"""SIGTERM, SIGUSR1, SIGINT and SIGUSR2 stop a real ``main_pretrain.py`` run mid-epoch with a
checkpoint of the last completed step, and ``resume=auto`` continues from it to exactly the
weights of an uninterrupted run, with DataLoader worker processes.

One run directory goes through the four signals in turn, each sent mid-epoch while the process
waits after a known step (``tests/kill_harness.py pause=<n>``), each followed by ``resume=auto``,
like a job pre-empted and requeued four times. Each signal goes to the run's whole process group,
its two data workers included, as SLURM and a terminal's Ctrl-C send them: the workers leave it to
the main process. An interrupted run writes no summary.json: it
did not finish; its last line on stderr says where its checkpoint is and how to continue.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import torch
from paused_runs import signal_paused_run
from test_sigkill import (
    FINAL_STEP,
    RUN,
    checkpoint_files,
    final_weights,
    losses_by_step,
    pretrain,
)

from hyperssl.cli.errors import EXIT_INTERRUPTED

# (signal, the step after which it arrives, how the process had been started): 3 steps an epoch.
SIGNALS = [
    (signal.SIGTERM, 2, []),  # epoch 0, before its checkpoint
    (signal.SIGUSR1, 4, ["resume=auto"]),  # continues at step 2; epoch 1
    (signal.SIGINT, 7, ["resume=auto"]),  # continues at step 4; epoch 2
    (signal.SIGUSR2, 8, ["resume=auto"]),  # continues at step 7; epoch 2
]
# Views made per image in two worker processes.
WORKERS = ["data.augment_on=workers", "data.num_workers=2"]


def interrupt_at(step: int, signum: signal.Signals, run_dir: Path, overrides: list[str], log: Path):
    """Start the run paused after ``step``, send it ``signum``; its exit status and stderr."""
    arguments = [*RUN, *WORKERS, *overrides, f"hydra.run.dir={run_dir}"]
    return signal_paused_run("main_pretrain.py", step, signum, arguments, log)


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("signals")
    run_dir = root / "run"
    interrupts = {}
    for signum, step, overrides in SIGNALS:
        status, stderr = interrupt_at(step, signum, run_dir, overrides, root / f"{signum.name}.log")
        interrupts[signum.name] = {
            "status": status,
            "stderr": stderr,
            "files": checkpoint_files(run_dir),
            "summary": (run_dir / "summary.json").exists(),
        }
    resumed = pretrain(run_dir, *WORKERS, "resume=auto")
    uninterrupted = pretrain(root / "uninterrupted", *WORKERS)
    return {
        "run_dir": run_dir,
        "interrupts": interrupts,
        "resumed": resumed,
        "resumed_weights": final_weights(run_dir),
        "uninterrupted_weights": final_weights(root / "uninterrupted"),
        "resumed_losses": losses_by_step(run_dir),
        "uninterrupted_losses": losses_by_step(root / "uninterrupted"),
        "uninterrupted_steps": uninterrupted["global_step"],
    }


@pytest.mark.parametrize(("signum", "step"), [(s, n) for s, n, _ in SIGNALS], ids=lambda v: str(v))
def test_a_signal_mid_epoch_exits_interrupted_with_one_line(interrupted_run, signum, step):
    interrupt = interrupted_run["interrupts"][signum.name]
    checkpoint = interrupted_run["run_dir"] / "checkpoints" / "interrupted.ckpt"
    assert interrupt["status"] == EXIT_INTERRUPTED == 75
    # The training's own log lines precede it; the line is the last, with no traceback.
    assert interrupt["stderr"].splitlines()[-1] == (
        f"error: interrupted by {signum.name} at step {step}; checkpoint saved to {checkpoint}; "
        "continue with resume=auto"
    )
    assert "Traceback" not in interrupt["stderr"]
    assert not interrupt["summary"]


@pytest.mark.parametrize(("signum", "step"), [(s, n) for s, n, _ in SIGNALS], ids=lambda v: str(v))
def test_a_signal_saves_a_checkpoint_of_the_last_completed_step(interrupted_run, signum, step):
    assert interrupted_run["interrupts"][signum.name]["files"]["interrupted.ckpt"] == step


def test_the_epoch_end_checkpoints_stay_those_of_completed_epochs(interrupted_run):
    files = {name: interrupt["files"] for name, interrupt in interrupted_run["interrupts"].items()}
    assert "last.ckpt" not in files["SIGTERM"]
    assert files["SIGUSR1"]["last.ckpt"] == 3
    assert files["SIGINT"]["last.ckpt"] == files["SIGUSR2"]["last.ckpt"] == 6


def test_resume_auto_after_the_last_signal_continues_from_the_interrupt_checkpoint(
    interrupted_run,
):
    resumed = interrupted_run["resumed"]
    checkpoint = interrupted_run["run_dir"] / "checkpoints" / "interrupted.ckpt"
    assert resumed["resumed_from"] == str(checkpoint)
    assert resumed["global_step"] == FINAL_STEP == interrupted_run["uninterrupted_steps"]


def test_the_interrupted_and_resumed_run_ends_with_the_uninterrupted_weights(interrupted_run):
    resumed, uninterrupted = (
        interrupted_run["resumed_weights"],
        interrupted_run["uninterrupted_weights"],
    )
    assert resumed.keys() == uninterrupted.keys()
    assert [name for name in resumed if not torch.equal(resumed[name], uninterrupted[name])] == []


def test_the_interrupted_run_keeps_one_loss_curve_equal_to_the_uninterrupted_one(interrupted_run):
    assert interrupted_run["resumed_losses"] == interrupted_run["uninterrupted_losses"]
    assert [step for step, _ in interrupted_run["resumed_losses"]] == list(range(FINAL_STEP))
