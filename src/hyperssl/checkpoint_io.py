"""Checkpoints written atomically, so a kill at any moment leaves the previous one intact."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

# Written on SIGTERM, SIGINT or SIGUSR1 at a step boundary (hyperssl.callbacks.stop_on_signal).
INTERRUPTED_CHECKPOINT = "interrupted.ckpt"
# ".<target name>.<pid of the writer>.tmp", beside the target.
_TEMPORARY = re.compile(r"\.(?P<target>.+)\.(?P<pid>\d+)\.tmp")


def temporary_path(path: Path, pid: int | None = None) -> Path:
    """Where the process ``pid`` (default: this one) writes ``path`` before renaming it."""
    return path.with_name(f".{path.name}.{os.getpid() if pid is None else pid}.tmp")


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _fsync_directory(folder: Path) -> None:
    """Make a rename in ``folder`` durable: without this a power cut can undo it."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporaries that writers killed mid-save left in ``folder``; returns them.

    Call it before this process saves anything there: a temporary then belongs to a dead process
    unless its writer still runs on this machine (a temporary named with this process's own pid
    comes from a dead process whose pid was reused, e.g. in a restarted container).
    """
    if not folder.is_dir():
        return []
    stale = []
    for path in sorted(folder.iterdir()):
        match = _TEMPORARY.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or not _is_running(pid):
            path.unlink(missing_ok=True)
            stale.append(path)
    return stale


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's torch checkpoint IO, writing to a temporary file in the target's folder,
    flushing it to disk, then renaming it over the target (``os.replace`` is atomic on POSIX).

    Lightning's own writer opens the target for writing directly, so a process killed during
    the write leaves a truncated ``last.ckpt`` behind. A kill here leaves the previous target
    intact and a hidden ``.<name>.<pid>.tmp`` beside it (see :func:`remove_stale_temporaries`).
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = temporary_path(path)
        try:
            with open(temporary, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
            _fsync_directory(path.parent)
        except (OSError, RuntimeError) as error:
            # A failed write (a full disk) names no file, or comes from torch's zip writer as a
            # RuntimeError ("unexpected pos") over it: name the checkpoint the user can act on.
            failed = error if isinstance(error, OSError) else error.__cause__ or error.__context__
            if isinstance(failed, OSError) and failed.filename is None:
                raise OSError(failed.errno, failed.strerror, str(path)) from error
            raise
        finally:
            temporary.unlink(missing_ok=True)
