"""Uniformity (Wang & Isola, ICML 2020) as a head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import require
from hyperssl.heads.base import HeadConfig, LossHead, StepOutput
from hyperssl.heads.registry import register_head
from hyperssl.losses import uniform_loss


@dataclass
class UniformityHeadConfig(HeadConfig):
    t: float = 2.0

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        require(self.t > 0, f"{key}.t", self.t, "> 0")


@register_head("uniformity", UniformityHeadConfig)
class UniformityHead(LossHead):
    """Mean over views of L_unif(z_v; t) = log E_{i≠j} exp(-t ||ẑ_i - ẑ_j||²) (Wang & Isola
    2020, Eq. 5) on the projections, normalised by :func:`hyperssl.losses.uniform_loss`, in
    its precision (float32, float64 for float64 z)."""

    inputs: ClassVar[tuple[str, ...]] = ("z",)

    def forward(self, out: StepOutput) -> Tensor:
        return torch.stack([uniform_loss(view, self.config.t) for view in out.z]).mean()
