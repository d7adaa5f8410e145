"""LARS (You et al., 2017), timm's implementation, with solo-learn's rule for which parameters
get the trust-ratio adaptation, as solo-learn's SSL recipes use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from timm.optim import Lars

from hyperssl.optim.registry import OptimizerConfig, register_optimizer


@dataclass
class LARSConfig(OptimizerConfig):
    """With ``exclude_bias_n_norm`` (the default), biases and norms get neither weight decay nor
    the trust-ratio adaptation; every other parameter is adapted, the online probe's included."""

    momentum: float = 0.9
    trust_coefficient: float = 0.02  # eta of the trust ratio


def adaptation_groups(
    groups: list[dict[str, Any]], exclude_bias_n_norm: bool
) -> list[dict[str, Any]]:
    """``groups`` regrouped so that timm's Lars adapts what solo-learn's LARS adapts.

    solo-learn adapts every parameter, whatever its group's weight decay (the online probe's
    group has none), except with ``exclude_bias_n_norm`` those of at most one dimension, which
    then get neither the adaptation nor weight decay. timm adapts a group only when its weight
    decay is not 0 or it sets ``always_adapt``: the adapted parameters of a group keep its
    options with ``always_adapt=True``; the others go to ``<name>_no_decay`` with weight decay 0
    (a group holding only one kind keeps its name).
    """
    regrouped = []
    for group in groups:
        params = list(group["params"])
        adapted = [p for p in params if p.ndim > 1 or not exclude_bias_n_norm]
        plain = [p for p in params if p.ndim <= 1 and exclude_bias_n_norm]
        if adapted:
            regrouped.append({**group, "params": adapted, "always_adapt": True})
        if plain:
            rest = {**group, "params": plain, "weight_decay": 0.0, "always_adapt": False}
            if adapted and "name" in group:
                rest["name"] = f"{group['name']}_no_decay"
            regrouped.append(rest)
    return regrouped


@register_optimizer("lars", LARSConfig)
def lars(groups: list[dict[str, Any]], cfg: Any, lr: float) -> torch.optim.Optimizer:
    return Lars(
        adaptation_groups(groups, cfg.exclude_bias_n_norm),
        lr=lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        trust_coeff=cfg.trust_coefficient,
        trust_clip=True,
    )
