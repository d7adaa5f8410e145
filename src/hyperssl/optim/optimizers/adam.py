"""Adam (Kingma & Ba, ICLR 2015) with weight decay as an L2 term, torch's implementation.

The decay is added to the gradient before the moment estimates (``g + λθ``), so it is scaled by
the adaptive step like any other gradient; AdamW (``optimizer=adamw``) decays the weights apart
from it. The spherization paper's MNIST runs use this one
(``optim.Adam(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)``); with weight decay
0 the two are the same optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from hyperssl.optim.optimizers.adamw import AdamWConfig
from hyperssl.optim.registry import register_optimizer


@dataclass
class AdamConfig(AdamWConfig):
    weight_decay: float = 0.0


@register_optimizer("adam", AdamConfig)
def adam(groups: list[dict[str, Any]], cfg: Any, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(groups, lr=lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
