"""The Lightning Trainer of a run: its arguments, logger and callbacks from the config."""

from __future__ import annotations

import random
import signal
import warnings
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.environments import SLURMEnvironment
from lightning_fabric.utilities.data import _set_sampler_epoch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

from hyperssl.callbacks.diagnostics import diagnostic_callbacks
from hyperssl.checkpoint_io import INTERRUPTED_CHECKPOINT, AtomicCheckpointIO
from hyperssl.cli.errors import TrainingInterruptedError
from hyperssl.errors import ConfigError, require
from hyperssl.loggers import build_loggers

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


def _random_states() -> tuple[Any, ...]:
    return torch.get_rng_state(), np.random.get_state(), random.getstate()


def _set_random_states(states: tuple[Any, ...]) -> None:
    torch.set_rng_state(states[0])
    np.random.set_state(states[1])
    random.setstate(states[2])


class ResumeDataPosition(Callback):
    """A resumed run's training batches and random numbers continue as an uninterrupted run's.

    Lightning creates the train iterator of a resumed run before it sets the sampler's epoch, and
    does not skip what a checkpoint taken mid-epoch had consumed unless the DataLoader implements
    Lightning's stateful-loader protocol. So when training starts: the random states the checkpoint
    restored are set again (creating the iterator drew from them), the sampler gets its epoch and
    the iterator is created again, as at an epoch start (a multi-process loader reads its sampler
    then); mid-epoch, the batches already trained on are drawn and dropped (under DDP each rank
    drops its own), and the random states are set back to the checkpoint's, since an uninterrupted
    run draws nothing there. Hand-written: torchdata's StatefulDataLoader is not a dependency.

    Exact for data loaded in the main process (in-memory data sets, ``data.num_workers=0``). With
    worker processes, the augmentations of the rest of an epoch resumed mid-epoch differ, as the
    workers' random streams are not in a checkpoint; the batches are the same.
    """

    def __init__(self) -> None:
        self._restored: tuple[Any, ...] | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # After the checkpoint's module state (and random states) are restored, before the loop
        # creates the iterator.
        self._restored = _random_states() if trainer.ckpt_path else None
        # Lightning's warning that a mid-epoch resume replays the wrong batches: not so here.
        warnings.filterwarnings(
            "ignore", "You're resuming from a checkpoint that ended before the epoch ended"
        )

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._restored is None:
            return
        fit_loop = trainer.fit_loop
        fetcher = fit_loop._data_fetcher
        if fetcher is None or fit_loop._combined_loader is None:
            return
        _set_random_states(self._restored)
        for loader in fit_loop._combined_loader.flattened:
            _set_sampler_epoch(loader, trainer.current_epoch)
        iter(fetcher)
        if fit_loop.restarted_mid_epoch:
            for _ in range(fit_loop.epoch_loop.batch_progress.current.completed):
                next(fetcher.iterator)
            _set_random_states(self._restored)


def build_callbacks(cfg: DictConfig, run_dir: Path, has_validation: bool) -> list[Callback]:
    """Stopping on signals (``checkpoints/interrupted.ckpt``) and resuming at the right batch; the
    lr monitor; ``checkpoints/last.ckpt`` every ``every_n_epochs`` epochs; and, with validation
    data, ``checkpoints/best.ckpt`` by ``checkpoint.monitor``."""
    checkpoint_dir = run_dir / "checkpoints"
    callbacks: list[Callback] = [StopOnSignal(checkpoint_dir), ResumeDataPosition()]
    callbacks.append(LearningRateMonitor(logging_interval="step"))
    callbacks += diagnostic_callbacks(cfg, run_dir)
    if not cfg.checkpoint.enabled:
        return callbacks
    if cfg.checkpoint.keep_every_epoch:
        # One callback for both files: two monitor-less ModelCheckpoints would share a state key.
        latest = ModelCheckpoint(
            dirpath=checkpoint_dir,
            filename="epoch{epoch:03d}",
            auto_insert_metric_name=False,
            save_top_k=-1,
            save_last=True,
            every_n_epochs=cfg.checkpoint.every_n_epochs,
        )
    else:
        latest = ModelCheckpoint(
            dirpath=checkpoint_dir,
            filename="last",
            every_n_epochs=cfg.checkpoint.every_n_epochs,
            enable_version_counter=False,
        )
    callbacks.append(latest)
    if has_validation and cfg.checkpoint.monitor:
        callbacks.append(
            ModelCheckpoint(
                dirpath=checkpoint_dir,
                filename="best",
                monitor=cfg.checkpoint.monitor,
                mode=cfg.checkpoint.mode,
                enable_version_counter=False,
            )
        )
    return callbacks


def is_distributed(trainer_cfg: DictConfig) -> bool:
    """Whether the trainer settings ask for several processes."""
    devices = trainer_cfg.devices
    many_devices = (isinstance(devices, int) and (devices > 1 or devices == -1)) or (
        not isinstance(devices, int | str) and len(devices) > 1
    )
    return many_devices or trainer_cfg.num_nodes > 1 or "ddp" in str(trainer_cfg.strategy)


def trainer_arguments(cfg: DictConfig) -> dict[str, Any]:
    """``trainer.*`` keys as Trainer keyword arguments (unset ones left to Lightning).

    SyncBatchNorm is on by default under DDP on GPUs: with per-device batches, BatchNorm
    statistics of one device are those of a fraction of the batch the loss sees. (PyTorch's
    SyncBatchNorm runs on GPUs only, so CPU runs keep per-process statistics.)
    """
    arguments = OmegaConf.to_container(cfg.trainer, resolve=True)
    del arguments["channels_last"]  # the method's setting, not the Trainer's
    if arguments["sync_batchnorm"] is None:
        accelerator = str(cfg.trainer.accelerator)
        on_gpu = accelerator in ("gpu", "cuda") or (
            accelerator == "auto" and torch.cuda.is_available()
        )
        arguments["sync_batchnorm"] = on_gpu and is_distributed(cfg.trainer)
    return {key: value for key, value in arguments.items() if value is not None}


def check_accelerator_present(trainer_cfg: DictConfig) -> None:
    """One line, before anything is built, where Lightning would end in a traceback: a GPU
    asked for on a machine without one, or more GPUs than it has."""
    accelerator = str(trainer_cfg.accelerator)
    if accelerator in ("gpu", "cuda"):
        count = torch.cuda.device_count()
        require(
            count > 0,
            "trainer.accelerator",
            accelerator,
            "cpu or auto: this machine has no CUDA GPU (trainer=cpu runs on its CPU)",
        )
        devices = trainer_cfg.devices
        if isinstance(devices, int) and devices > count:
            raise ConfigError(
                "trainer.devices",
                f"got {devices}, but this machine has {count} GPU(s)",
                f"at most {count}, or -1 for all of them",
            )
    if accelerator == "mps":
        require(
            torch.backends.mps.is_available(),
            "trainer.accelerator",
            accelerator,
            "cpu or auto: this machine has no Apple GPU",
        )


def build_trainer(
    cfg: DictConfig, run_dir: Path, has_validation: bool, resume_from: Path | None = None
) -> pl.Trainer:
    """The run's Trainer; its loggers (``trainer.loggers``) are the caller's to close
    (:func:`~hyperssl.loggers.closing_loggers`) once the run's last results are logged."""
    arguments = trainer_arguments(cfg)
    if not has_validation:
        arguments["limit_val_batches"] = 0
    # The loggers last: a wandb run starts when its logger is made, so little can fail after.
    callbacks = build_callbacks(cfg, run_dir, has_validation)
    return pl.Trainer(
        **arguments,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=run_dir,
        logger=build_loggers(cfg, run_dir, resume_from),
        callbacks=callbacks,
        enable_checkpointing=cfg.checkpoint.enabled,
    )
