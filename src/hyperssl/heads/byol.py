"""BYOL's objective as a head: predictions regressed onto the momentum encoder's projections."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from hyperssl.heads.base import HeadConfig, LossHead, StepOutput, cross_view_terms
from hyperssl.heads.registry import register_head
from hyperssl.losses import byol_loss


@register_head("byol", HeadConfig)
class BYOLHead(LossHead):
    """Σ_{i ≠ j} byol_loss(p_i, k_j) over the views (Grill et al. 2020, Eq. 2, symmetrised), in
    the run's geometry (:func:`hyperssl.losses.byol_loss`)."""

    inputs: ClassVar[tuple[str, ...]] = ("p", "k")

    def forward(self, out: StepOutput) -> Tensor:
        return cross_view_terms(lambda p, k: byol_loss(p, k, self.geometry), out.p, out.k).sum()
