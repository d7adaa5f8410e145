"""SIGKILL a real ``main_pretrain.py`` run again and again, resume it each time, and end with
exactly the weights of an uninterrupted run; every checkpoint a kill leaves on disk loads.

The processes run through ``tests/kill_harness.py``, which freezes them at the chosen point (in a
checkpoint save: half the bytes in the temporary, before the rename) for the test to kill. One
run directory goes through every kill in turn, like a job that is preempted and requeued with
``resume=auto``; the module fixture runs it once and records what each kill left on disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from hydra_runs import REPO, TINY, metric_by_step
from omegaconf import OmegaConf
from paused_runs import HARNESS, environment

from hyperssl import ConfigError
from hyperssl.cli.artifacts import checkpoint_to_resume

# 3 epochs of 3 steps, a checkpoint (last.ckpt, and best.ckpt by val/acc1) after each epoch.
RUN = [*TINY, "trainer.max_epochs=3", "scheduler.warmup_epochs=1", "knn.enabled=false"]
FINAL_STEP = 9

# (name, where the kill lands, how the killed process had been started): kill_harness counts the
# steps from the run's start and the saves from the process's start.
KILLS = [
    ("mid_epoch", "step=4", []),  # epoch 1, after the checkpoint of epoch 0
    ("during_save", "writing=1", ["resume=auto"]),  # from step 3: the save of epoch 1
    ("right_after_save", "saved=1", ["resume=auto"]),  # epoch 1 again, its save completes
]


def kill_at(point: str, run_dir: Path, overrides: list[str], log: Path) -> int:
    """Start the run frozen at ``point`` (see kill_harness), SIGKILL it there; returns its pid."""
    marker = log.with_suffix(".frozen")
    arguments = [point, str(marker), *RUN, *overrides, f"hydra.run.dir={run_dir}"]
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, str(HARNESS), *arguments],
            cwd=REPO,
            env=environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 180
    while not marker.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"the run never reached {point}:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    return process.pid


def pretrain(run_dir: Path, *overrides: str) -> dict:
    """``python main_pretrain.py``, uninterrupted; returns the run's summary."""
    arguments = [*RUN, *overrides, f"hydra.run.dir={run_dir}"]
    result = subprocess.run(
        [sys.executable, str(REPO / "main_pretrain.py"), *arguments],
        cwd=REPO,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((run_dir / "summary.json").read_text())


def checkpoint_files(run_dir: Path) -> dict[str, int | None]:
    """Each file in the run's checkpoints folder: the global_step it holds, None if it does not
    load as a checkpoint."""
    files = {}
    for path in sorted((run_dir / "checkpoints").glob("*")):
        try:
            files[path.name] = int(torch.load(path, weights_only=True)["global_step"])
        except Exception:
            files[path.name] = None
    return files


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory) -> dict:
    """The uninterrupted run's final weights; what each kill left (its pid and the checkpoints
    folder); the summary and final weights of the run resumed after the last kill."""
    root = tmp_path_factory.mktemp("sigkill")
    run_dir = root / "run"
    with ThreadPoolExecutor(max_workers=1) as pool:
        uninterrupted = pool.submit(pretrain, root / "uninterrupted")
        kills = {}
        for name, point, overrides in KILLS:
            pid = kill_at(point, run_dir, overrides, root / f"{name}.log")
            kills[name] = {"pid": pid, "files": checkpoint_files(run_dir)}
        # The end: requeued once more, it runs to completion in place.
        resumed = pretrain(run_dir, "resume=auto")
        assert uninterrupted.result()["global_step"] == FINAL_STEP
    return {
        "run_dir": run_dir,
        "kills": kills,
        "resumed": resumed,
        "resumed_files": checkpoint_files(run_dir),
        "resumed_weights": final_weights(run_dir),
        "uninterrupted_weights": final_weights(root / "uninterrupted"),
        "resumed_losses": losses_by_step(run_dir),
        "uninterrupted_losses": losses_by_step(root / "uninterrupted"),
    }


def losses_by_step(run_dir: Path) -> list[tuple[int, float]]:
    return metric_by_step(run_dir, "train/loss")


def temporary(kill: dict) -> str:
    """The name of the temporary the killed process was writing last.ckpt to."""
    return f".last.ckpt.{kill['pid']}.tmp"


def test_a_kill_mid_epoch_leaves_the_checkpoints_of_the_last_epoch(killed_run):
    assert killed_run["kills"]["mid_epoch"]["files"] == {"best.ckpt": 3, "last.ckpt": 3}


def test_a_kill_during_a_save_leaves_the_previous_checkpoint_and_a_temporary(killed_run):
    kill = killed_run["kills"]["during_save"]
    assert kill["files"] == {temporary(kill): None, "best.ckpt": 3, "last.ckpt": 3}


def test_resume_auto_removes_the_temporary_of_the_killed_writer(killed_run):
    kills = killed_run["kills"]
    assert temporary(kills["during_save"]) not in kills["right_after_save"]["files"]


def test_a_kill_right_after_a_save_leaves_the_new_checkpoint(killed_run):
    # last.ckpt is epoch 1's; best.ckpt, saved after it, is still epoch 0's.
    assert killed_run["kills"]["right_after_save"]["files"] == {"best.ckpt": 3, "last.ckpt": 6}


def test_the_run_resumed_after_the_kills_continues_from_its_last_checkpoint(killed_run):
    resumed = killed_run["resumed"]
    assert resumed["resumed_from"] == str(killed_run["run_dir"] / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == FINAL_STEP
    assert killed_run["resumed_files"]["last.ckpt"] == FINAL_STEP


def test_the_killed_and_resumed_run_ends_with_the_uninterrupted_weights(killed_run):
    resumed, uninterrupted = killed_run["resumed_weights"], killed_run["uninterrupted_weights"]
    assert resumed.keys() == uninterrupted.keys()
    assert [name for name in resumed if not torch.equal(resumed[name], uninterrupted[name])] == []


def test_the_requeued_run_keeps_one_loss_curve_equal_to_the_uninterrupted_one(killed_run):
    """metrics.csv keeps the rows logged before each checkpoint and drops the later ones, which
    the continuation logs again: one row per step, the uninterrupted run's values."""
    assert killed_run["resumed_losses"] == killed_run["uninterrupted_losses"]
    assert [step for step, _ in killed_run["resumed_losses"]] == list(range(FINAL_STEP))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_resume_auto_after_a_kill_before_the_first_checkpoint_starts_afresh(tmp_path):
    (tmp_path / "metrics.csv").write_text("step,train/loss\n0,4.2\n")
    stale = tmp_path / "checkpoints" / f".last.ckpt.{dead_pid()}.tmp"
    stale.parent.mkdir()
    stale.write_bytes(b"half a checkpoint")
    assert checkpoint_to_resume("auto", tmp_path, OmegaConf.create({})) is None
    assert list(stale.parent.iterdir()) == []


def test_resume_auto_refuses_a_finished_run_without_a_checkpoint(tmp_path):
    (tmp_path / "summary.json").write_text("{}\n")
    with pytest.raises(ConfigError, match=r"already holds a run \(summary.json\)"):
        checkpoint_to_resume("auto", tmp_path, OmegaConf.create({}))
