"""Optimizers and learning-rate schedules, from torch and timm, one registered file each
(``optimizer=<name>``, ``scheduler=<name>``)."""

from hyperssl.optim.lightning import ScheduledOptimization
from hyperssl.optim.param_groups import scaled_lr, split_decay_groups
from hyperssl.optim.registry import (
    OPTIMIZERS,
    SCHEDULERS,
    OptimizerConfig,
    SchedulerConfig,
    build_optimizer,
    build_scheduler,
    register_optimizer,
    register_scheduler,
)

__all__ = [
    "OPTIMIZERS",
    "SCHEDULERS",
    "OptimizerConfig",
    "ScheduledOptimization",
    "SchedulerConfig",
    "build_optimizer",
    "build_scheduler",
    "register_optimizer",
    "register_scheduler",
    "scaled_lr",
    "split_decay_groups",
]
