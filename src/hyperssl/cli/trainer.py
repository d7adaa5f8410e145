"""The Lightning Trainer of a run: its arguments, logger and callbacks from the config."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

from hyperssl.callbacks.diagnostics import diagnostic_callbacks
from hyperssl.callbacks.resume_position import ResumeDataPosition
from hyperssl.callbacks.stop_on_signal import StopOnSignal
from hyperssl.checkpoint_io import AtomicCheckpointIO
from hyperssl.errors import ConfigError, require
from hyperssl.loggers import build_loggers


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


def in_slurm_job() -> bool:
    """Whether this process is a task of a SLURM job that Lightning treats as one: what
    ``SLURMEnvironment.detect()`` answers, without its warning, outside a job, that srun exists
    (a line before every one-line error on a cluster's login node)."""
    return "SLURM_NTASKS" in os.environ and SLURMEnvironment.job_name() not in (
        "bash",
        "interactive",
    )


def cluster_plugins() -> list[SLURMEnvironment]:
    """Under SLURM, Lightning's SLURM environment with its auto-requeue off.

    One requeue path: submitit's (``hydra/launcher=slurm``), which requeues on its signal
    (SIGUSR2) once :class:`~hyperssl.callbacks.stop_on_signal.StopOnSignal` has saved the step.
    Lightning's would save ``hpc_ckpt_*.ckpt`` from inside its SIGUSR1 handler, mid-step, and
    requeue beside it. A job started by a script of one's own ends with status 75 on any stop
    signal, for that script to requeue (``scontrol requeue $SLURM_JOB_ID``).
    """
    return [SLURMEnvironment(auto_requeue=False)] if in_slurm_job() else []


def check_slurm_allocation(trainer_cfg: DictConfig) -> None:
    """In a SLURM job, one line where its tasks are not one Lightning process each: every task
    would otherwise train its own copy of the model into the same run directory."""
    if not in_slurm_job():
        return
    tasks, nodes = int(os.environ["SLURM_NTASKS"]), int(os.environ.get("SLURM_JOB_NUM_NODES", 1))
    devices = trainer_cfg.devices
    if isinstance(devices, str) and devices.isdigit():
        devices = int(devices)
    expected = f"{tasks // nodes} (this job's tasks per node, hydra.launcher.tasks_per_node)"
    require(
        isinstance(devices, int) and devices > 0,
        "trainer.devices",
        devices,
        f"a count of processes per node under SLURM: {expected}",
    )
    require(
        trainer_cfg.num_nodes == nodes,
        "trainer.num_nodes",
        trainer_cfg.num_nodes,
        f"{nodes}, the nodes of this SLURM job (hydra.launcher.nodes)",
    )
    require(devices * nodes == tasks, "trainer.devices", devices, expected)


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
    plugins = [AtomicCheckpointIO(), *cluster_plugins()]
    # Outside a job (in_slurm_job), Lightning's hint that srun exists is noise on a login node;
    # for the whole process, as fit() asks SLURMEnvironment again when it looks for checkpoints.
    warnings.filterwarnings("ignore", message="The `srun` command is available")
    return pl.Trainer(
        **arguments,
        plugins=plugins,
        default_root_dir=run_dir,
        logger=build_loggers(cfg, run_dir, resume_from),
        callbacks=callbacks,
        enable_checkpointing=cfg.checkpoint.enabled,
    )


def fit_until_stopped(trainer: pl.Trainer, model: pl.LightningModule, **fit_arguments: Any) -> None:
    """``trainer.fit``; a stop signal ends it with
    :class:`~hyperssl.errors.TrainingInterruptedError` (exit status 75, one line) once
    :class:`~hyperssl.callbacks.stop_on_signal.StopOnSignal` has saved the step. Left to
    Lightning, its ``SIGTERMException`` (a ``SystemExit``) would end the process with status 0.
    A checkpoint to resume from (``ckpt_path``) is untrusted: loaded with ``weights_only``."""
    try:
        trainer.fit(model, weights_only=True, **fit_arguments)
    except SIGTERMException as stop:
        (stop_on_signal,) = [c for c in trainer.callbacks if isinstance(c, StopOnSignal)]
        # In a job submitit launched, its handler requeues the job (on its signal) and exits.
        stop_on_signal.hand_back()
        raise stop_on_signal.interruption(trainer) from stop
