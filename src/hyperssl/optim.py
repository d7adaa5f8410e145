"""Optimizers (SGD, LARS, AdamW) and learning-rate schedules, from torch and timm."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from timm.optim import Lars
from timm.scheduler import CosineLRScheduler
from timm.scheduler.scheduler import Scheduler
from torch import nn
from torch.optim.lr_scheduler import LRScheduler, MultiStepLR

from hyperssl.errors import ConfigError

OPTIMIZERS = ("sgd", "lars", "adamw")
SCHEDULERS = ("warmup_cosine", "step", "none")


def split_decay_groups(
    module: nn.Module, exclude_bias_n_norm: bool, name: str = "params"
) -> list[dict[str, Any]]:
    """Parameters of ``module`` in two groups: with weight decay, and biases/norms without.

    The groups are named ``name`` and ``<name>_no_decay`` (the lr monitor's column names).
    With ``exclude_bias_n_norm`` every parameter of at most one dimension (biases, BatchNorm and
    LayerNorm affine parameters) gets weight_decay=0, which also turns LARS adaptation off for it
    (timm's Lars adapts only groups with weight decay).
    """
    params = [p for p in module.parameters() if p.requires_grad]
    if not exclude_bias_n_norm:
        return [{"name": name, "params": params}]
    return [
        {"name": name, "params": [p for p in params if p.ndim > 1]},
        {
            "name": f"{name}_no_decay",
            "params": [p for p in params if p.ndim <= 1],
            "weight_decay": 0.0,
        },
    ]


def scaled_lr(lr: float, batch_size: int, world_size: int, reference: int, enabled: bool) -> float:
    """Linear scaling rule (Goyal et al. 2017): lr x global batch / reference batch."""
    return lr * batch_size * world_size / reference if enabled else lr


def build_optimizer(groups: Iterable[dict[str, Any]], cfg: Any, lr: float) -> torch.optim.Optimizer:
    """The optimizer ``cfg.name`` over param ``groups``; groups may override lr/weight_decay."""
    groups = list(groups)
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "lars":
        return Lars(
            groups,
            lr=lr,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
            trust_coeff=cfg.trust_coefficient,
            trust_clip=True,
        )
    if cfg.name == "adamw":
        return torch.optim.AdamW(
            groups, lr=lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay
        )
    raise ConfigError("optimizer.name", f"unknown optimizer {cfg.name!r}", ", ".join(OPTIMIZERS))


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: Any, total_steps: int, steps_per_epoch: int
) -> tuple[Scheduler | LRScheduler | None, str]:
    """The schedule and its Lightning interval ("step" or "epoch"); (None, "") for ``none``.

    warmup_cosine: timm's per-step scheduler (stepped with ``step_update(global_step)``), a linear
    warm-up from ``warmup_start_lr`` over ``warmup_epochs``, then a cosine to ``min_lr`` over the
    remaining steps. step: torch's MultiStepLR, lr x gamma at each of ``lr_decay_epochs``.
    """
    warmup_steps = min(int(cfg.warmup_epochs * steps_per_epoch), max(total_steps - 1, 0))
    if cfg.name == "warmup_cosine":
        scheduler = CosineLRScheduler(
            optimizer,
            t_initial=max(total_steps - warmup_steps, 1),
            lr_min=cfg.min_lr,
            warmup_t=warmup_steps,
            warmup_lr_init=cfg.warmup_start_lr,
            warmup_prefix=True,
            t_in_epochs=False,
        )
        return scheduler, "step"
    if cfg.name == "step":
        return MultiStepLR(
            optimizer, milestones=list(cfg.lr_decay_epochs), gamma=cfg.gamma
        ), "epoch"
    if cfg.name == "none":
        return None, ""
    raise ConfigError("scheduler.name", f"unknown scheduler {cfg.name!r}", ", ".join(SCHEDULERS))
