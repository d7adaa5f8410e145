"""The logger registry (``logger=<name>``) and its one creation call.

A logger option is a factory ``(cfg, run_dir, resume_from) -> Logger`` of Lightning's loggers,
given the whole run config (wandb records it as the run's hyperparameters).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import MISSING, DictConfig
from pytorch_lightning.loggers import Logger

from hyperssl.registry import PartConfig, Registry

LoggerFactory = Callable[[DictConfig, Path, Path | None], Logger]
LOGGERS: Registry[LoggerFactory] = Registry("logger", "logger", "hyperssl.loggers")
register_logger = LOGGERS.register


@dataclass
class LoggerConfig(PartConfig):
    name: str = MISSING


def build_loggers(cfg: DictConfig, run_dir: Path, resume_from: Path | None = None) -> list[Logger]:
    """``metrics.csv`` in ``run_dir``, and the logger ``cfg.logger.name`` beside it (continuing
    from ``resume_from`` when the run continues in place).

    Every run keeps its CSV file, whatever else it logs to; a config without a ``logger`` section
    gets the CSV file alone.
    """
    # The run directory always holds Hydra's files; Lightning would warn that it is not empty.
    # No earlier metrics can be there: ensure_fresh_run_dir has checked.
    warnings.filterwarnings(
        "ignore", message="Experiment logs directory .* exists and is not empty"
    )
    names = ["csv"]
    if "logger" in cfg and cfg.logger.name != "csv":
        names.append(cfg.logger.name)
    return [LOGGERS.get(name, "logger.name")(cfg, run_dir, resume_from) for name in names]
