"""Supervised contrastive learning (Khosla et al., NeurIPS 2020) as a head (``heads=[supcon]``):
NT-Xent whose positives are the anchor's class, for every method that produces projections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from hyperssl.heads.base import LossHead, StepOutput, TemperatureHeadConfig
from hyperssl.heads.registry import register_head
from hyperssl.losses import supcon_loss


@dataclass
class SupConHeadConfig(TemperatureHeadConfig):
    """τ = 0.1, the paper's (its reference code's CIFAR runs, ``--temp 0.1``)."""

    temperature: float = 0.1


@register_head("supcon", SupConHeadConfig)
class SupConHead(LossHead):
    """SupCon's L_out over every view of the step with the run's geometry (Khosla et al. 2020,
    Eq. 2; :func:`hyperssl.losses.supcon_loss`). The step's labels are gathered with z; a label
    -1 (unlabelled) makes a sample its own class, whose positives are its other views."""

    inputs: ClassVar[tuple[str, ...]] = ("z", "labels")

    def forward(self, out: StepOutput) -> Tensor:
        return supcon_loss(out.z, out.labels, self.config.temperature, self.geometry)
