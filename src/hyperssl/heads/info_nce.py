"""MoCo v3's objective as a head: in-batch InfoNCE of predictions against momentum keys."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from hyperssl.heads.base import LossHead, StepOutput, TemperatureHeadConfig
from hyperssl.heads.registry import register_head
from hyperssl.losses import info_nce


@register_head("info_nce", TemperatureHeadConfig)
class InfoNCEHead(LossHead):
    """2τ (L(p1, k2) + L(p2, k1)) with L = in-batch :func:`hyperssl.losses.info_nce` (Chen et
    al. 2021, Algorithm 1: ``ctr(q1, k2) + ctr(q2, k1)``, each scaled by 2τ)."""

    inputs: ClassVar[tuple[str, ...]] = ("p", "k")

    def forward(self, out: StepOutput) -> Tensor:
        (p1, p2), (k1, k2) = out.p[:2], out.k[:2]
        temperature = self.config.temperature
        pair_losses = info_nce(p1, k2, temperature, self.geometry) + info_nce(
            p2, k1, temperature, self.geometry
        )
        return 2 * temperature * pair_losses
