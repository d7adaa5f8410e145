"""Step decay: the lr times ``gamma`` at each of ``lr_decay_epochs`` (the MHE, spherization and
linear-evaluation recipes), after the optional linear warm-up."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from omegaconf import DictConfig
from torch.optim.lr_scheduler import LambdaLR

from hyperssl.errors import require
from hyperssl.optim.registry import SchedulerConfig, register_scheduler, warmup_steps


@dataclass
class StepConfig(SchedulerConfig):
    lr_decay_epochs: list[int] = field(default_factory=lambda: [60, 80])
    gamma: float = 0.1

    def validate(self, cfg: DictConfig, key: str) -> None:
        super().validate(cfg, key)
        require(self.gamma > 0, f"{key}.gamma", self.gamma, "> 0")
        epochs = list(self.lr_decay_epochs)
        require(
            epochs == sorted(epochs) and all(epoch >= 0 for epoch in epochs),
            f"{key}.lr_decay_epochs",
            epochs,
            "epochs >= 0 in increasing order",
        )


def warmup_then_steps(
    optimizer: torch.optim.Optimizer,
    warmup: int,
    warmup_start_lr: float,
    milestones: Sequence[int],
    gamma: float,
) -> LambdaLR:
    """Per optimizer step t: a linear ramp from ``warmup_start_lr`` to each group's lr over the
    first ``warmup`` steps, then the lr x gamma^(number of ``milestones`` (steps) <= t).

    At whole epochs this is torch's MultiStepLR stepped per epoch (the decay applies from the
    first step of each milestone epoch); torch has no warm-up that ramps from an absolute lr,
    and timm's MultiStepLRScheduler applies each milestone one step early, hence this lambda.
    """
    milestones = sorted(milestones)

    def factor_for(lr: float) -> Callable[[int], float]:
        def factor(step: int) -> float:
            if step < warmup and lr > 0:
                return (warmup_start_lr + (lr - warmup_start_lr) * step / warmup) / lr
            return gamma ** bisect.bisect_right(milestones, step)

        return factor

    return LambdaLR(optimizer, [factor_for(group["lr"]) for group in optimizer.param_groups])


@register_scheduler("step", StepConfig)
def step(
    optimizer: torch.optim.Optimizer, cfg: Any, total_steps: int, steps_per_epoch: int
) -> LambdaLR:
    milestones = [epoch * steps_per_epoch for epoch in cfg.lr_decay_epochs]
    return warmup_then_steps(
        optimizer,
        warmup_steps(cfg, total_steps, steps_per_epoch),
        cfg.warmup_start_lr,
        milestones,
        cfg.gamma,
    )
