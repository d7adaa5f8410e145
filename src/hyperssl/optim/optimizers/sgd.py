"""SGD with momentum (torch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from hyperssl.optim.registry import OptimizerConfig, register_optimizer


@dataclass
class SGDConfig(OptimizerConfig):
    lr: float = 0.1
    weight_decay: float = 5e-4
    exclude_bias_n_norm: bool = False
    momentum: float = 0.9


@register_optimizer("sgd", SGDConfig)
def sgd(groups: list[dict[str, Any]], cfg: Any, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
