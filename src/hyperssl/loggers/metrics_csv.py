"""``metrics.csv`` in the run directory (Lightning's CSVLogger)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig
from pytorch_lightning.loggers import CSVLogger

from hyperssl.cli.artifacts import is_global_rank_zero
from hyperssl.loggers.registry import LoggerConfig, register_logger


@dataclass
class CSVConfig(LoggerConfig):
    pass


@register_logger("csv", CSVConfig)
def csv_logger(cfg: DictConfig, run_dir: Path, resume_from: Path | None) -> CSVLogger:
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
