"""A constant learning rate (after the optional linear warm-up)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR

from hyperssl.optim.registry import SchedulerConfig, register_scheduler, warmup_steps
from hyperssl.optim.schedulers.step import warmup_then_steps


@dataclass
class ConstantConfig(SchedulerConfig):
    pass


@register_scheduler("none", ConstantConfig)
def constant(
    optimizer: torch.optim.Optimizer, cfg: Any, total_steps: int, steps_per_epoch: int
) -> LambdaLR | None:
    warmup = warmup_steps(cfg, total_steps, steps_per_epoch)
    if warmup == 0:
        return None
    return warmup_then_steps(optimizer, warmup, cfg.warmup_start_lr, (), 1.0)
