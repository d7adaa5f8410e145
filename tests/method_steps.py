"""One training step of a method module, outside a Trainer, with what it logs captured."""

from __future__ import annotations

import torch
from torch import Tensor

from hyperssl.methods import BaseMethod


def training_step(
    model: BaseMethod, batch: int = 8, seed: int = 0, device: torch.device | str = "cpu"
) -> tuple[Tensor, dict]:
    """The loss of one step on two random 32x32 views of ``batch`` images on ``device``, and the
    metrics the step logged."""
    logged: dict[str, Tensor] = {}
    model.log_dict = lambda metrics, **kwargs: logged.update(metrics)
    torch.manual_seed(seed)
    views = [torch.randn(batch, 3, 32, 32).to(device) for _ in range(2)]
    labels = torch.arange(batch, device=device)
    return model.training_step((views, labels, labels), 0), logged
