"""Stop training on SIGTERM, SIGINT, SIGUSR1 or SIGUSR2 at a step boundary, with a checkpoint to
resume."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities.exceptions import SIGTERMException

from hyperssl.checkpoint_io import INTERRUPTED_CHECKPOINT
from hyperssl.errors import TrainingInterruptedError

# SIGUSR2 is submitit's pre-emption and time-limit signal (hydra/launcher=slurm); SIGUSR1 that of
# Lightning's own SLURM plugin and many sbatch scripts; SIGTERM what SLURM sends on scancel,
# scontrol requeue and pre-emption, and what a time limit ends with.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)


class StopOnSignal(Callback):
    """On SIGTERM, SIGINT, SIGUSR1 or SIGUSR2: finish the step in flight, save
    ``checkpoints/interrupted.ckpt`` and stop (:meth:`interruption` says how).

    Lightning's own way, extended to the other signals: a handler only notes the signal, the
    training loop raises ``SIGTERMException`` after the step and its hooks (queue pushes
    included), on every DDP rank at once (rank 0's note is broadcast before each step), and
    callbacks see it in ``on_exception``. Left to Lightning, that ends the process with status 0
    as if training had finished, SIGINT raises KeyboardInterrupt in the middle of a step, and
    under SLURM SIGUSR1 saves ``hpc_ckpt_*.ckpt`` inside the signal handler, mid-step, and trains
    on (the trainer turns that plugin off: :func:`~hyperssl.cli.trainer.cluster_plugins`).

    The handlers that were in place before training (submitit's, in a SLURM job it launched) are
    not called from the signal but by :meth:`hand_back`, once the checkpoint is saved: submitit
    then requeues the job on its signal with the checkpoint already on disk. Not Lightning's
    ``OnExceptionCheckpoint``: it deletes its file when a later run ends, and as a ``Checkpoint``
    it is refused with ``checkpoint.enabled=false``. A second SIGINT interrupts at once.
    """

    def __init__(self, checkpoint_dir: Path) -> None:
        self.path = checkpoint_dir / INTERRUPTED_CHECKPOINT
        self.received: signal.Signals | None = None
        self._before_training: dict[signal.Signals, Any] = {}
        self._trainer: pl.Trainer | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # Called before Lightning registers its handlers, which call the ones in place.
        self._before_training = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Registered over Lightning's: its SIGTERM handler broadcasts to the other DDP ranks from
        # inside the handler, in the middle of whatever collective the rank was in.
        self._trainer = trainer
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._record)

    def _record(self, signum: int, frame: FrameType | None) -> None:
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

    def hand_back(self) -> None:
        """Put back the handlers that were in place before training and let the one for the
        signal received handle it now (submitit's requeues the job on its signal and exits)."""
        self._restore_handlers()
        if self.received is None:
            return
        handler = self._before_training.get(self.received)
        # Python's SIGINT handler raises KeyboardInterrupt; SIG_DFL would end the process.
        if callable(handler) and handler is not signal.default_int_handler:
            handler(self.received, None)

    def interruption(self, trainer: pl.Trainer) -> TrainingInterruptedError:
        """The error a run stopped by a signal ends with (after ``on_exception`` saved)."""
        name = self.received.name if self.received else signal.SIGTERM.name
        return TrainingInterruptedError(
            f"interrupted by {name} at step {trainer.global_step}; "
            f"checkpoint saved to {self.path}; continue with resume=auto"
        )

    def _restore_handlers(self) -> None:
        for signum, handler in self._before_training.items():
            if handler is not None:
                signal.signal(signum, handler)
        self._trainer = None

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._restore_handlers()
