"""Run the entry points in-process through Hydra's compose API (fast) or as subprocesses (real).

``TINY`` overrides keep a run to seconds on 2 CPU cores: a narrow conv net, a few steps.
"""

from __future__ import annotations

import atexit
import csv
import functools
import json
import os
import select
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, NamedTuple

from omegaconf import DictConfig

from hyperssl.cli.compose import CONFIGS, compose_config

REPO = Path(__file__).resolve().parents[1]

TINY = [
    "backbone=convnet4",
    "backbone.kwargs.width=8",
    "method.projector.hidden_dim=32",
    "method.projector.output_dim=16",
    "optimizer.batch_size=16",
    "data.num_workers=0",
    "trainer=cpu",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
    "knn.k=5",
    # The end-of-training pictures (t-SNE) cost seconds; tests that check them turn them on.
    "diagnostics.plots.enabled=false",
    "diagnostics.sphere_metrics.num_samples=32",
]


def compose_pretrain(
    overrides: list[str], run_dir: Path, config_dir: Path = CONFIGS, config_name: str = "pretrain"
) -> DictConfig:
    """The composed config, with Hydra's runtime output dir set to ``run_dir``."""
    return compose_config(config_name, overrides, config_dir, run_dir)


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    """The rows of the run's metrics.csv (CSVLogger: one row per logging call, '' where a
    column was not logged)."""
    with open(run_dir / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def metric_values(run_dir: Path, name: str) -> list[float]:
    """The logged values of column ``name``, in order."""
    return [float(row[name]) for row in read_metrics(run_dir) if row.get(name)]


def metric_columns(run_dir: Path) -> dict[str, list[float]]:
    """Every column's logged values, in order."""
    rows = read_metrics(run_dir)
    return {name: [float(row[name]) for row in rows if row.get(name)] for name in rows[0]}


def metric_by_step(run_dir: Path, name: str) -> list[tuple[int, float]]:
    """(step, value) of every row where column ``name`` was logged."""
    return [(int(row["step"]), float(row[name])) for row in read_metrics(run_dir) if row.get(name)]


def tensorboard_scalars(run_dir: Path) -> dict[str, list[float]]:
    """Every scalar of the run's TensorBoard event files, read with TensorBoard's reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    return {tag: [event.value for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def linear_overrides(
    pretrained_run: Path, cifar10_root: Path, cache_dir: Path, epochs: int = 3
) -> list[str]:
    """main_linear.py on the tiny CIFAR-10 set, on CPU, with the features cached in cache_dir."""
    return [
        f"pretrained_feature_extractor={pretrained_run}",
        "data=cifar10",
        f"data.train_path={cifar10_root}",
        "data.num_workers=0",
        "trainer=cpu",
        f"trainer.max_epochs={epochs}",
        "trainer.enable_progress_bar=false",
        "optimizer.batch_size=16",
        f"feature_cache.dir={cache_dir}",
    ]


def run_linear(overrides: list[str], run_dir: Path) -> dict:
    """main_linear.py's run in this process; its summary."""
    from hyperssl.cli import linear

    return linear.run(compose_pretrain(overrides, run_dir, config_name="linear"))


def run_pretrain(overrides: list[str], run_dir: Path) -> dict:
    from hyperssl.cli import pretrain

    return pretrain.run(compose_pretrain([*TINY, *overrides], run_dir))


def run_pretrain_preset(preset: Path, run_dir: Path, overrides: list[str] = ()) -> dict:
    """A preset under scripts/ (``--config-path <dir> --config-name <file>``) with TINY settings."""
    from hyperssl.cli import pretrain

    cfg = compose_pretrain([*TINY, *overrides], run_dir, preset.parent, preset.name)
    return pretrain.run(cfg)


def entry_environment() -> dict[str, str]:
    """The environment of an entry point run as a user would run it."""
    # One intra-op thread: these tiny runs gain nothing from more, and OpenMP threads spinning on
    # a loaded 2-core machine double their time.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    env.pop("PYTEST_CURRENT_TEST", None)  # pytest's, and different in every test
    return env


# The environment the entry points run in unless a test gives one: the user's, as this test
# process started. Not os.environ as it is later: in-process runs set variables a user's shell
# would not have (Lightning's PL_GLOBAL_SEED, torch's TORCHINDUCTOR_CACHE_DIR, ...), and a test's
# monkeypatch is that test's alone (it passes ``entry_environment()`` to run in it).
SESSION_ENVIRONMENT = entry_environment()


def run_entry(
    script: str,
    args: list[str],
    cwd: Path = REPO,
    timeout: float = 300,
    environment: dict[str, str] | None = None,
):
    """Run ``python <script> args`` as a user would (in :data:`SESSION_ENVIRONMENT` unless an
    ``environment`` is given); returns the CompletedProcess. From the repository's folder in
    that environment, the run is a fork of this process's :func:`fork_server`: the same exit
    status and output, without the seconds of imports; otherwise a fresh interpreter."""
    if cwd == REPO and environment is None:
        return run_entry_cases(script, {"run": args}, workers=1, timeout=timeout)["run"]
    return subprocess.run(
        [sys.executable, str(REPO / script), *args],
        cwd=cwd,
        env=environment or SESSION_ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class ForkServer(NamedTuple):
    process: subprocess.Popen
    stderr: IO[str]  # what the server itself printed there (each case's is in its own file)


@functools.cache
def fork_server() -> ForkServer:
    """This test process's ``tests/forked_entry.py`` server, started on first use (it imports
    for about 5 s) and kept for the process's other batches; it ends when its input closes, at
    this process's exit."""
    stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115  (open as long as the server runs)
    process = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "forked_entry.py")],
        cwd=REPO,
        env=SESSION_ENVIRONMENT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    atexit.register(process.stdin.close)
    return ForkServer(process, stderr)


def run_entry_cases(
    script: str, cases: dict[str, list[str]], workers: int = 2, timeout: float = 600
) -> dict[str, subprocess.CompletedProcess]:
    """``run_entry(script, args)`` for every ``name -> args`` of ``cases``, each in a fork of
    one process that imported torch, Lightning and Hydra once (:func:`fork_server`), at most
    ``workers`` at a time, in :data:`SESSION_ENVIRONMENT`; the same exit status and output,
    without the imports' seconds per case."""
    server, server_stderr = fork_server()
    with tempfile.TemporaryDirectory() as out:
        cases_file = Path(out) / "cases.json"
        cases_file.write_text(json.dumps(cases))
        batch = {"script": str(REPO / script), "cases": str(cases_file), "out": out}
        server.stdin.write(json.dumps({**batch, "workers": workers}) + "\n")
        server.stdin.flush()
        answered, _, _ = select.select([server.stdout], [], [], timeout)
        answer = server.stdout.readline() if answered else ""
        server_stderr.seek(0)
        # What the shared imports print would reach every user's terminal but no case's output.
        printed = server_stderr.read()
        if answer != "done\n" or printed:
            server.kill()
            fork_server.cache_clear()
            raise RuntimeError(f"forked_entry.py answered {answer!r}, printed: {printed[-2000:]!r}")
        return {
            name: subprocess.CompletedProcess(
                [script, *args],
                int((Path(out) / f"{name}.rc").read_text()),
                (Path(out) / f"{name}.stdout").read_text(),
                (Path(out) / f"{name}.stderr").read_text(),
            )
            for name, args in cases.items()
        }
