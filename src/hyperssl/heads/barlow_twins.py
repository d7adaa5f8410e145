"""Barlow Twins' objective (Zbontar et al., ICML 2021) as a head."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import require
from hyperssl.heads.base import HeadConfig, LossHead, StepOutput
from hyperssl.heads.registry import register_head
from hyperssl.losses.redundancy import barlow_twins_loss


@dataclass
class BarlowTwinsHeadConfig(HeadConfig):
    """λ weighs the off-diagonal (redundancy) terms against the on-diagonal (invariance) ones:
    0.0051, the paper's (Sec. 4, "Loss function coefficients"). ``scale_loss`` multiplies the
    whole loss: 0.1, solo-learn's CIFAR recipe (vturrisi/solo-learn@9187ea3,
    scripts/pretrain/cifar/barlow.yaml; the paper has none, i.e. 1)."""

    lam: float = 0.0051
    scale_loss: float = 0.1

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        require(self.lam >= 0, f"{key}.lam", self.lam, ">= 0")
        require(self.scale_loss > 0, f"{key}.scale_loss", self.scale_loss, "> 0")


@register_head("barlow_twins", BarlowTwinsHeadConfig)
class BarlowTwinsHead(LossHead):
    """Mean over unordered view pairs of L_BT(z_i, z_j) (Zbontar et al. 2021, Eq. 1;
    :func:`hyperssl.losses.redundancy.barlow_twins_loss`); two views, the recipe, give Eq. 1
    itself (solo-learn takes two views only).

    Reads ``out.z`` only, gathered over processes, so the per-dimension standardisation and C
    are over the global batch: what the official code gets from its SyncBatchNorm (C divided by
    the global batch, summed over processes). solo-learn instead standardises each process's
    batch with its own statistics and averages the per-process C, which differs under DDP.
    Euclidean: the run's geometry is not read.
    """

    inputs: ClassVar[tuple[str, ...]] = ("z",)

    def forward(self, out: StepOutput) -> Tensor:
        config = self.config
        pairs = combinations(out.z, 2)
        losses = [barlow_twins_loss(a, b, config.lam, config.scale_loss) for a, b in pairs]
        return torch.stack(losses).mean()
