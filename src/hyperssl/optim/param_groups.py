"""Parameter groups: weight decay exemptions and the linear learning-rate scaling rule."""

from __future__ import annotations

from typing import Any

from torch import nn


def split_decay_groups(
    module: nn.Module, exclude_bias_n_norm: bool, name: str = "params"
) -> list[dict[str, Any]]:
    """Parameters of ``module`` in two groups: with weight decay, and biases/norms without.

    The groups are named ``name`` and ``<name>_no_decay`` (the lr monitor's column names).
    With ``exclude_bias_n_norm`` every parameter of at most one dimension (biases, BatchNorm and
    LayerNorm affine parameters) gets weight_decay=0 (LARS does not adapt them either: see
    :func:`hyperssl.optim.optimizers.lars.adaptation_groups`).
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
