"""The lr a scheduler gives each optimizer step, for tests of schedules and of presets."""

import torch
from timm.scheduler.scheduler import Scheduler as TimmScheduler
from torch import nn

from hyperssl.optim import build_scheduler


def lrs_over(cfg, total_steps, steps_per_epoch, base_lr=1.0):
    """The lr of every optimizer step, the scheduler stepped after each step as Lightning does
    through :class:`ScheduledOptimization`."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=base_lr)
    scheduler = build_scheduler(optimizer, cfg, total_steps, steps_per_epoch)
    values = []
    for step in range(total_steps):
        values.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if isinstance(scheduler, TimmScheduler):
            scheduler.step_update(num_updates=step + 1)
        elif scheduler is not None:
            scheduler.step()
    return values
