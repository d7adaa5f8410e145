"""TensorBoard event files in the run directory (``pip install hyperssl[tensorboard]``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig
from pytorch_lightning.loggers import Logger

from hyperssl.loggers.registry import LoggerConfig, register_logger


@dataclass
class TensorBoardConfig(LoggerConfig):
    pass


@register_logger("tensorboard", TensorBoardConfig)
def tensorboard_logger(cfg: DictConfig, run_dir: Path, resume_from: Path | None) -> Logger:
    from pytorch_lightning.loggers import TensorBoardLogger

    # No placeholder hp_metric=-1: a run's real results arrive as scalars (log_final_metrics).
    return TensorBoardLogger(
        save_dir=run_dir, name="", version="tensorboard", default_hp_metric=False
    )
