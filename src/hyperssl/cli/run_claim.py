"""Claim a run directory for one process at a time: an exclusive ``flock`` on ``<run dir>/.lock``.

Two runs started together with the same ``hydra.run.dir`` would both find it free and write into
each other's files. The claim is taken before the directory is checked and held for the run's life.

Why ``flock`` and not a create-exclusive marker with the holder's pid: the kernel releases the lock
when its holder dies, however it dies (SIGKILL, OOM killer, power cut of a container), so a stale
claim cannot exist and nothing has to decide from a pid, which can be reused or belong to another
machine, whether a marker is stale. The lock file itself stays behind (deleting it would let a
process that opened the old file and one that creates a new one both hold "the" lock); it holds the
pid of the last holder, only to name it in the error.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from hyperssl.errors import ConfigError

LOCK_NAME = ".lock"

# The claims this process holds: a second claim of a run dir by its holder is no conflict (tests
# run several entry points in one process), and flock would refuse it from a second descriptor.
_HELD: dict[Path, int] = {}


def _holder(lock: Path) -> str:
    try:
        pid = lock.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


def claim_run_dir(run_dir: Path) -> None:
    """Hold ``run_dir`` for this process until it exits or :func:`release_run_dir` is called.

    Raises a one-line ConfigError on ``hydra.run.dir`` when a live process holds it.
    """
    run_dir = run_dir.resolve()
    if run_dir in _HELD:
        return
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError("hydra.run.dir", f"{run_dir} is a file", "a directory (new or a run's)")
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = run_dir / LOCK_NAME
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise ConfigError(
            "hydra.run.dir",
            f"{run_dir} is in use by a running run{_holder(lock)}",
            "a new directory, or the same one once that run has ended",
        ) from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    _HELD[run_dir] = descriptor


def release_run_dir(run_dir: Path) -> None:
    """Give up this process's claim of ``run_dir`` (closing the descriptor drops the lock)."""
    descriptor = _HELD.pop(run_dir.resolve(), None)
    if descriptor is not None:
        os.close(descriptor)


@contextlib.contextmanager
def holding_run_dir(run_dir: Path) -> Iterator[None]:
    """:func:`claim_run_dir` for the ``with`` block, released after it unless held before it."""
    held_before = run_dir.resolve() in _HELD
    claim_run_dir(run_dir)
    try:
        yield
    finally:
        if not held_before:
            release_run_dir(run_dir)
