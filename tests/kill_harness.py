"""Run ``main_pretrain.py`` (or ``main_linear.py``) but freeze it at a chosen point, so that a
test can SIGKILL it there.

    python tests/kill_harness.py [--entry=main_linear.py] <point> <marker> [overrides ...]

point, one of:
    step=<n>     just after the optimizer step that makes global_step n (mid-epoch, say)
    pause=<n>    as step=<n>, but the process waits for a signal there instead of being killed,
                 then trains on, as a process that the signal reaches between two steps
    writing=<n>  in the n-th write of ``last.ckpt``: part of the checkpoint's bytes are in the
                 temporary file, which is not renamed yet
    saved=<n>    just after the n-th ``last.ckpt`` has been renamed into place

At the point the process creates ``marker`` and sleeps (or pauses); the test waits for the marker,
then kills (or signals) it. Only this harness is patched: the production code runs as the
entry point runs it.
"""

from __future__ import annotations

import io
import runpy
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra_runs import REPO

from hyperssl.checkpoint_io import AtomicCheckpointIO
from hyperssl.cli import linear, pretrain

FROZEN_SECONDS = 300  # killed long before; bounded so a forgotten process ends by itself


def freeze(marker: Path) -> None:
    marker.touch()
    time.sleep(FROZEN_SECONDS)
    sys.exit("kill_harness: frozen process was not killed")


class FreezeAfterStep(pl.Callback):
    def __init__(self, step: int, marker: Path) -> None:
        self.step, self.marker = step, marker

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            freeze(self.marker)


def add_callback(make: Any, first: bool = False) -> None:
    """Every entry point's trainer gets the callback ``make()`` (first, or last)."""
    for entry in (pretrain, linear):
        build = entry.build_trainer

        def build_with_callback(*args: Any, build: Any = build, **kwargs: Any) -> pl.Trainer:
            trainer = build(*args, **kwargs)
            trainer.callbacks.insert(0 if first else len(trainer.callbacks), make())
            return trainer

        entry.build_trainer = build_with_callback


def freeze_after_step(step: int, marker: Path) -> None:
    add_callback(lambda: FreezeAfterStep(step, marker))


class PauseAfterStep(pl.Callback):
    def __init__(self, step: int, marker: Path) -> None:
        self.step, self.marker = step, marker

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            self.marker.touch()
            signal.pause()  # returns once the signal's handler has run


def pause_after_step(step: int, marker: Path) -> None:
    # First, so that the signal arrives before the run's own batch-end hooks of that step.
    add_callback(lambda: PauseAfterStep(step, marker), first=True)


def freeze_while_writing(count: int, marker: Path) -> None:
    """The n-th torch.save into a temporary of last.ckpt writes half its bytes, then freezes."""
    save = torch.save
    seen = 0

    def save_half_then_freeze(obj: Any, file: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal seen
        if Path(getattr(file, "name", "")).name.startswith(".last.ckpt."):
            seen += 1
            if seen == count:
                buffer = io.BytesIO()
                save(obj, buffer, *args, **kwargs)
                file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
                file.flush()
                freeze(marker)
        save(obj, file, *args, **kwargs)

    torch.save = save_half_then_freeze


def freeze_after_saving(count: int, marker: Path) -> None:
    save_checkpoint = AtomicCheckpointIO.save_checkpoint
    seen = 0

    def save_then_freeze(
        self: AtomicCheckpointIO, checkpoint: dict, path: Any, **kwargs: Any
    ) -> None:
        nonlocal seen
        save_checkpoint(self, checkpoint, path, **kwargs)
        if Path(path).name == "last.ckpt":
            seen += 1
            if seen == count:
                freeze(marker)

    AtomicCheckpointIO.save_checkpoint = save_then_freeze


POINTS = {
    "step": freeze_after_step,
    "pause": pause_after_step,
    "writing": freeze_while_writing,
    "saved": freeze_after_saving,
}


def main() -> None:
    arguments = sys.argv[1:]
    entry = "main_pretrain.py"
    if arguments[0].startswith("--entry="):
        entry = arguments.pop(0).removeprefix("--entry=")
    point, marker, *overrides = arguments
    kind, _, number = point.partition("=")
    POINTS[kind](int(number), Path(marker))
    # Exactly as `python <entry> <overrides>`: Hydra reads them from sys.argv.
    sys.argv = [sys.argv[0], *overrides]
    runpy.run_path(str(REPO / entry), run_name="__main__")


if __name__ == "__main__":
    main()
