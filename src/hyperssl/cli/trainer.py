"""The Lightning Trainer of a run: its arguments, logger and callbacks from the config."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, Logger

from hyperssl.errors import ConfigError


def _wandb_has_key() -> bool:
    netrc = Path.home() / ".netrc"
    return bool(os.environ.get("WANDB_API_KEY")) or (
        netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore")
    )


def build_logger(cfg: DictConfig, run_dir: Path) -> Logger:
    """CSV (``metrics.csv`` in the run directory), TensorBoard or wandb."""
    name = cfg.logger.name
    # The run directory always holds Hydra's files; Lightning would warn that it is not empty.
    # No earlier metrics can be there: ensure_fresh_run_dir has checked.
    warnings.filterwarnings(
        "ignore", message="Experiment logs directory .* exists and is not empty"
    )
    if name == "csv":
        # name="" and version="" put metrics.csv directly in the run directory.
        return CSVLogger(save_dir=run_dir, name="", version="")
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
        logger = WandbLogger(
            project=cfg.logger.project,
            entity=cfg.logger.entity,
            name=cfg.name,
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
    if not cfg.checkpoint.enabled:
        return callbacks
    checkpoint_dir = run_dir / "checkpoints"
    callbacks.append(
        ModelCheckpoint(
            dirpath=checkpoint_dir,
            filename="last",
            every_n_epochs=cfg.checkpoint.every_n_epochs,
            enable_version_counter=False,
        )
    )
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


def trainer_arguments(cfg: DictConfig) -> dict[str, Any]:
    """``trainer.*`` keys as Trainer keyword arguments (unset ones left to Lightning)."""
    arguments = OmegaConf.to_container(cfg.trainer, resolve=True)
    return {key: value for key, value in arguments.items() if value is not None}


def build_trainer(cfg: DictConfig, run_dir: Path, has_validation: bool) -> pl.Trainer:
    arguments = trainer_arguments(cfg)
    if not has_validation:
        arguments["limit_val_batches"] = 0
    return pl.Trainer(
        **arguments,
        default_root_dir=run_dir,
        logger=build_logger(cfg, run_dir),
        callbacks=build_callbacks(cfg, run_dir, has_validation),
        enable_checkpointing=cfg.checkpoint.enabled,
    )
