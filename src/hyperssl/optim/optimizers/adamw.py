"""AdamW (Loshchilov & Hutter, ICLR 2019), torch's implementation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from omegaconf import DictConfig

from hyperssl.errors import require
from hyperssl.optim.registry import OptimizerConfig, register_optimizer


@dataclass
class AdamWConfig(OptimizerConfig):
    lr: float = 1e-3
    weight_decay: float = 0.05
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])

    def validate(self, cfg: DictConfig, key: str) -> None:
        super().validate(cfg, key)
        require(
            len(self.betas) == 2 and all(0 <= beta < 1 for beta in self.betas),
            f"{key}.betas",
            list(self.betas),
            "two floats in [0, 1)",
        )


@register_optimizer("adamw", AdamWConfig)
def adamw(groups: list[dict[str, Any]], cfg: Any, lr: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
