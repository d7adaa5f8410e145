"""SimSiam's objective as a head: predictions regressed onto the other views' projections,
with stop-gradient."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from hyperssl.heads.base import HeadConfig, LossHead, StepOutput, cross_view_terms
from hyperssl.heads.registry import register_head
from hyperssl.losses import simsiam_loss


@register_head("simsiam", HeadConfig)
class SimSiamHead(LossHead):
    """Mean over ordered view pairs i ≠ j of D(p_i, stopgrad(z_j)) (Chen & He 2021, Eq. 3: for
    two views L = D(p1, z2)/2 + D(p2, z1)/2), in the run's geometry
    (:func:`hyperssl.losses.simsiam_loss`)."""

    inputs: ClassVar[tuple[str, ...]] = ("p", "z")

    def forward(self, out: StepOutput) -> Tensor:
        terms = cross_view_terms(lambda p, z: simsiam_loss(p, z, self.geometry), out.p, out.z)
        return terms.mean()
