"""LARS (You et al., 2017), timm's implementation, as solo-learn's SSL recipes use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from timm.optim import Lars

from hyperssl.optim.registry import OptimizerConfig, register_optimizer


@dataclass
class LARSConfig(OptimizerConfig):
    """Biases and norms are excluded from weight decay and from the trust-ratio adaptation."""

    momentum: float = 0.9
    trust_coefficient: float = 0.02  # eta of the trust ratio


@register_optimizer("lars", LARSConfig)
def lars(groups: list[dict[str, Any]], cfg: Any, lr: float) -> torch.optim.Optimizer:
    return Lars(
        groups,
        lr=lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        trust_coeff=cfg.trust_coefficient,
        trust_clip=True,
    )
