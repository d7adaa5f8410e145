"""Weights & Biases (``pip install hyperssl[wandb]``): offline unless an API key is configured;
the runs of one sweep share a group and are named by their overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import Logger

from hyperssl.errors import ConfigError
from hyperssl.extras import install_hint
from hyperssl.loggers.registry import LoggerConfig, register_logger


@dataclass
class WandbConfig(LoggerConfig):
    project: str = "hyperssl"
    entity: str | None = None
    offline: bool | None = None  # None: offline unless an API key is configured


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


@register_logger("wandb", WandbConfig)
def wandb_logger(cfg: DictConfig, run_dir: Path, resume_from: Path | None) -> Logger:
    try:
        import wandb
        from pytorch_lightning.loggers import WandbLogger
    except ImportError as error:
        raise ConfigError("logger", "wandb is not installed", install_hint("wandb")) from error
    if wandb.run is not None:
        # Left open by an earlier job of this process (a sweep) that stopped before
        # closing_loggers could finish it: that job failed. WandbLogger would log into it.
        wandb.finish(exit_code=1)
    settings = cfg.logger
    offline = settings.offline if settings.offline is not None else not _wandb_has_key()
    name, group = wandb_name_and_group(cfg.name)
    logger = WandbLogger(
        project=settings.project,
        entity=settings.entity,
        name=name,
        group=group,
        save_dir=str(run_dir),
        offline=offline,
    )
    logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    return logger
