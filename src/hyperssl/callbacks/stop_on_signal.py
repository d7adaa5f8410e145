"""Stop training on SIGTERM, SIGINT or SIGUSR1 at a step boundary, with a checkpoint to resume."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Any

import pytorch_lightning as pl
from lightning_fabric.plugins.environments import SLURMEnvironment
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities.exceptions import SIGTERMException

from hyperssl.checkpoint_io import INTERRUPTED_CHECKPOINT
from hyperssl.errors import TrainingInterruptedError

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


class StopOnSignal(Callback):
    """On SIGTERM, SIGINT or SIGUSR1: finish the step in flight, save
    ``checkpoints/interrupted.ckpt`` and stop (:meth:`interruption` says how).

    Lightning's own way, extended to SIGINT and SIGUSR1: its SIGTERM handler only notes the
    signal, the training loop raises ``SIGTERMException`` after the step and its hooks (queue
    pushes included), on every DDP rank at once, and callbacks see it in ``on_exception``. Left to
    Lightning, that ends the process with status 0 as if training had finished, SIGINT raises
    KeyboardInterrupt in the middle of a step, and under SLURM SIGUSR1 saves ``hpc_ckpt_*.ckpt``
    inside the signal handler, mid-step, and trains on. The handlers here are chained after
    Lightning's (the SLURM requeue still happens). Not Lightning's ``OnExceptionCheckpoint``: it
    deletes its file when a later run ends, and as a ``Checkpoint`` it is refused with
    ``checkpoint.enabled=false``. A second SIGINT interrupts at once.
    """

    def __init__(self, checkpoint_dir: Path) -> None:
        self.path = checkpoint_dir / INTERRUPTED_CHECKPOINT
        self.received: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}
        self._trainer: pl.Trainer | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Registered here, after Lightning's connector registered its handlers, to chain them.
        self._trainer = trainer
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._record)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous.get(signal.Signals(signum))
        # Python's SIGINT handler raises KeyboardInterrupt and SIG_DFL would end the process.
        if callable(previous) and previous is not signal.default_int_handler:
            previous(signum, frame)
        if self.received is None:
            self.received = signal.Signals(signum)
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if self._trainer is not None:
            # The flag of Lightning's SIGTERM handler: the loop stops after the step in flight.
            self._trainer._signal_connector.received_sigterm = True

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, SIGTERMException):
            trainer.save_checkpoint(self.path)

    def interruption(self, trainer: pl.Trainer) -> TrainingInterruptedError:
        """The error a run stopped by a signal ends with (after ``on_exception`` saved)."""
        name = self.received.name if self.received else signal.SIGTERM.name
        return TrainingInterruptedError(
            f"interrupted by {name} at step {trainer.global_step}; "
            f"checkpoint saved to {self.path}; continue with resume=auto",
            requeued=self._requeued(trainer),
        )

    def _requeued(self, trainer: pl.Trainer) -> bool:
        environment = trainer._accelerator_connector.cluster_environment
        return (
            isinstance(environment, SLURMEnvironment)
            and environment.auto_requeue
            and self.received == environment.requeue_signal
        )

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous, self._trainer = {}, None
