"""The optimizer and scheduler registries, the keys every option shares, and one creation call
for each.

An optimizer option is a factory ``(param_groups, cfg, lr) -> torch.optim.Optimizer``; a scheduler
option is a factory ``(optimizer, cfg, total_steps, steps_per_epoch) -> scheduler or None``. Every
schedule is stepped after each optimizer step (see :mod:`hyperssl.optim.lightning`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import MISSING, DictConfig

from hyperssl.errors import require
from hyperssl.registry import PartConfig, Registry

OptimizerFactory = Callable[[list[dict[str, Any]], Any, float], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer, Any, int, int], Any]

OPTIMIZERS: Registry[OptimizerFactory] = Registry(
    "optimizer", "optimizer", "hyperssl.optim.optimizers"
)
SCHEDULERS: Registry[SchedulerFactory] = Registry(
    "scheduler", "scheduler", "hyperssl.optim.schedulers"
)
register_optimizer = OPTIMIZERS.register
register_scheduler = SCHEDULERS.register


@dataclass
class OptimizerConfig(PartConfig):
    """Keys of every optimizer. ``lr`` and ``classifier_lr`` are given for a global batch of
    ``reference_batch_size`` and scaled linearly with ``batch_size`` (per device) x devices."""

    name: str = MISSING
    lr: float = 0.4
    batch_size: int = 256  # per device
    weight_decay: float = 1e-5
    exclude_bias_n_norm: bool = True  # no weight decay / LARS adaptation on biases and norms
    classifier_lr: float = 0.1  # online linear probe
    scale_lr_by_batch: bool = True
    reference_batch_size: int = 256

    def validate(self, cfg: DictConfig, key: str) -> None:
        require(self.lr > 0, f"{key}.lr", self.lr, "> 0")
        require(self.batch_size >= 1, f"{key}.batch_size", self.batch_size, ">= 1")
        require(self.weight_decay >= 0, f"{key}.weight_decay", self.weight_decay, ">= 0")
        require(self.classifier_lr > 0, f"{key}.classifier_lr", self.classifier_lr, "> 0")
        require(
            self.reference_batch_size >= 1,
            f"{key}.reference_batch_size",
            self.reference_batch_size,
            ">= 1",
        )


@dataclass
class SchedulerConfig(PartConfig):
    """Keys of every schedule: a linear warm-up from ``warmup_start_lr`` to each group's lr over
    the first ``warmup_epochs`` (fractions allowed; 0 for none), then the schedule itself."""

    name: str = MISSING
    warmup_epochs: float = 0.0
    warmup_start_lr: float = 0.0

    def validate(self, cfg: DictConfig, key: str) -> None:
        require(self.warmup_epochs >= 0, f"{key}.warmup_epochs", self.warmup_epochs, ">= 0")
        require(self.warmup_start_lr >= 0, f"{key}.warmup_start_lr", self.warmup_start_lr, ">= 0")


def build_optimizer(groups: Iterable[dict[str, Any]], cfg: Any, lr: float) -> torch.optim.Optimizer:
    """The optimizer ``cfg.name`` over param ``groups`` (which may set their own lr and
    weight_decay), with ``lr`` for the groups that do not."""
    return OPTIMIZERS.get(cfg.name, "optimizer.name")(list(groups), cfg, lr)


def warmup_steps(cfg: Any, total_steps: int, steps_per_epoch: int) -> int:
    """Optimizer steps of the warm-up: ``warmup_epochs`` of them, leaving at least one after."""
    return min(int(cfg.warmup_epochs * steps_per_epoch), max(total_steps - 1, 0))


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: Any, total_steps: int, steps_per_epoch: int
) -> Any:
    """The schedule ``cfg.name`` over ``total_steps`` optimizer steps, or None for a constant lr."""
    return SCHEDULERS.get(cfg.name, "scheduler.name")(optimizer, cfg, total_steps, steps_per_epoch)
