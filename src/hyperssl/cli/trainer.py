"""The Lightning Trainer of a run: its arguments, logger and callbacks from the config."""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, Logger

from hyperssl.callbacks.diagnostics import diagnostic_callbacks
from hyperssl.checkpoint_io import AtomicCheckpointIO
from hyperssl.cli.artifacts import is_global_rank_zero
from hyperssl.errors import ConfigError


def _wandb_has_key() -> bool:
    netrc = Path.home() / ".netrc"
    return bool(os.environ.get("WANDB_API_KEY")) or (
        netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore")
    )


def wandb_name_and_group(name: str) -> tuple[str, str | None]:
    """A run's wandb name and group: in a sweep, the name carries the run's overrides and the
    group is the sweep directory, so every run of one sweep lands in one group."""
    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return name, None
    overrides = hydra.job.override_dirname
    return (f"{name}/{overrides}" if overrides else name), Path(hydra.sweep.dir).name


def csv_logger(run_dir: Path, resume_from: Path | None) -> CSVLogger:
    """``metrics.csv`` directly in the run directory.

    A run continuing in place (``resume=auto``) keeps the rows logged before its checkpoint and
    drops the later ones, which the continuation logs again: Lightning's CSV writer would delete
    the whole file when it starts.
    """
    logger = CSVLogger(save_dir=run_dir, name="", version="")  # name/version "": no sub-folders
    path = run_dir / "metrics.csv"
    if resume_from is None or not path.is_file() or not is_global_rank_zero():
        return logger
    checkpoint = torch.load(resume_from, map_location="cpu", weights_only=True, mmap=True)
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        header = list(reader.fieldnames or [])
        kept = [row for row in reader if int(row["step"]) < checkpoint["global_step"]]
    writer = logger.experiment  # made here, it deletes metrics.csv
    with open(path, "w", newline="") as file:
        table = csv.DictWriter(file, fieldnames=header)
        table.writeheader()
        table.writerows(kept)
    writer.metrics_keys = header  # appended to from now on, with this header
    return logger


def build_logger(cfg: DictConfig, run_dir: Path, resume_from: Path | None = None) -> Logger:
    """CSV (``metrics.csv`` in the run directory), TensorBoard or wandb."""
    name = cfg.logger.name
    # The run directory always holds Hydra's files; Lightning would warn that it is not empty.
    # No earlier metrics can be there: ensure_fresh_run_dir has checked.
    warnings.filterwarnings(
        "ignore", message="Experiment logs directory .* exists and is not empty"
    )
    if name == "csv":
        return csv_logger(run_dir, resume_from)
    if name == "tensorboard":
        from pytorch_lightning.loggers import TensorBoardLogger

        return TensorBoardLogger(save_dir=run_dir, name="", version="tensorboard")
    if name == "wandb":
        try:
            import wandb  # noqa: F401
            from pytorch_lightning.loggers import WandbLogger
        except ImportError as error:
            raise ConfigError(
                "logger", "wandb is not installed", "pip install 'hyperssl[wandb]'"
            ) from error
        offline = cfg.logger.offline if cfg.logger.offline is not None else not _wandb_has_key()
        name, group = wandb_name_and_group(cfg.name)
        logger = WandbLogger(
            project=cfg.logger.project,
            entity=cfg.logger.entity,
            name=name,
            group=group,
            save_dir=str(run_dir),
            offline=offline,
        )
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        return logger
    raise ConfigError("logger.name", f"unknown logger {name!r}", "csv, tensorboard, wandb")


def build_callbacks(cfg: DictConfig, run_dir: Path, has_validation: bool) -> list[Callback]:
    """The lr monitor; ``checkpoints/last.ckpt`` every ``every_n_epochs`` epochs; and, with
    validation data, ``checkpoints/best.ckpt`` by ``checkpoint.monitor``."""
    callbacks: list[Callback] = [LearningRateMonitor(logging_interval="step")]
    callbacks += diagnostic_callbacks(cfg, run_dir)
    if not cfg.checkpoint.enabled:
        return callbacks
    checkpoint_dir = run_dir / "checkpoints"
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


def build_trainer(
    cfg: DictConfig, run_dir: Path, has_validation: bool, resume_from: Path | None = None
) -> pl.Trainer:
    arguments = trainer_arguments(cfg)
    if not has_validation:
        arguments["limit_val_batches"] = 0
    return pl.Trainer(
        **arguments,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=run_dir,
        logger=build_logger(cfg, run_dir, resume_from),
        callbacks=build_callbacks(cfg, run_dir, has_validation),
        enable_checkpointing=cfg.checkpoint.enabled,
    )
