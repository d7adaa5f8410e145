"""Linear warm-up then a cosine decay to ``min_lr`` (Loshchilov & Hutter, ICLR 2017), timm's
``CosineLRScheduler`` stepped by optimizer updates: solo-learn's default schedule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from timm.scheduler import CosineLRScheduler

from hyperssl.optim.registry import SchedulerConfig, register_scheduler, warmup_steps


@dataclass
class WarmupCosineConfig(SchedulerConfig):
    warmup_epochs: float = 10.0
    min_lr: float = 0.0


@register_scheduler("warmup_cosine", WarmupCosineConfig)
def warmup_cosine(
    optimizer: torch.optim.Optimizer, cfg: Any, total_steps: int, steps_per_epoch: int
) -> CosineLRScheduler:
    warmup = warmup_steps(cfg, total_steps, steps_per_epoch)
    return CosineLRScheduler(
        optimizer,
        t_initial=max(total_steps - warmup, 1),
        lr_min=cfg.min_lr,
        warmup_t=warmup,
        warmup_lr_init=cfg.warmup_start_lr,
        warmup_prefix=True,
        t_in_epochs=False,
    )
