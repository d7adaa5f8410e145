"""The optimizer and schedule of a LightningModule, shared by the pretraining methods and the
linear probe: parameter groups in, Lightning's ``configure_optimizers`` answer out."""

from __future__ import annotations

from typing import Any

import torch
from timm.scheduler.scheduler import Scheduler as TimmScheduler

from hyperssl.optim.param_groups import scaled_lr
from hyperssl.optim.registry import build_optimizer, build_scheduler


def _restore_static_lrs(optimizer: torch.optim.Optimizer) -> None:
    """Groups marked ``static_lr`` keep the lr they started with, whatever the schedule says
    (solo-learn's ``static_lr``: SimSiam's predictor). Schedulers record it as ``initial_lr``."""
    for group in optimizer.param_groups:
        if group.get("static_lr"):
            group["lr"] = group["initial_lr"]


class ScheduledOptimization:
    """Mixin for a ``pl.LightningModule``: :meth:`optimization` builds the optimizer and its
    schedule, stepped after every optimizer step by :meth:`lr_scheduler_step`.

    A parameter group is a dict with ``params`` and a ``name`` (the lr monitor's column) and may
    set ``lr`` (in the config's units: scaled with the batch like ``optimizer.lr``),
    ``weight_decay`` and ``static_lr`` (True: not scheduled).
    """

    def optimization(
        self, groups: list[dict[str, Any]], optimizer_cfg: Any, scheduler_cfg: Any
    ) -> dict[str, Any]:
        """Lightning's ``configure_optimizers`` answer for ``groups`` (empty ones dropped)."""
        trainer = self.trainer  # type: ignore[attr-defined]
        world_size = trainer.world_size

        def lr_of(value: float) -> float:
            return scaled_lr(
                value,
                optimizer_cfg.batch_size,
                world_size,
                optimizer_cfg.reference_batch_size,
                optimizer_cfg.scale_lr_by_batch,
            )

        groups = [
            {**group, "lr": lr_of(group["lr"])} if "lr" in group else group
            for group in groups
            if group["params"]
        ]
        optimizer = build_optimizer(groups, optimizer_cfg, lr_of(optimizer_cfg.lr))
        total_steps = int(trainer.estimated_stepping_batches)
        max_epochs = trainer.max_epochs or 0
        steps_per_epoch = max(total_steps // max_epochs, 1) if max_epochs > 0 else total_steps
        scheduler = build_scheduler(optimizer, scheduler_cfg, total_steps, steps_per_epoch)
        if scheduler is None:
            return {"optimizer": optimizer}
        _restore_static_lrs(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1},
        }

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        if isinstance(scheduler, TimmScheduler):
            # timm's schedulers are stepped by update count, after each optimizer step.
            scheduler.step_update(num_updates=self.global_step)  # type: ignore[attr-defined]
        else:
            scheduler.step()
        _restore_static_lrs(scheduler.optimizer)
