"""NNCLR's objective as a head: each view's support-set neighbour is the positive of the other
view's prediction."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from hyperssl.heads.base import LossHead, StepOutput, TemperatureHeadConfig
from hyperssl.heads.registry import register_head
from hyperssl.losses.nnclr import nearest_neighbours, nnclr_loss


@register_head("nnclr", TemperatureHeadConfig)
class NNCLRHead(LossHead):
    """(L(NN(z1, Q), p2) + L(NN(z2, Q), p1)) / 2 with L = :func:`hyperssl.losses.nnclr.nnclr_loss`
    and NN = :func:`hyperssl.losses.nnclr.nearest_neighbours` in the run's geometry (Dwibedi et
    al. 2021, Eq. 3, symmetrised over the two views as solo-learn does).

    Reads the first two views' projections ``z`` and predictions ``p`` ([B, D] each, the global
    batch) and the support set Q, ``state["support_set"]`` ([K, D] unit rows).
    """

    inputs: ClassVar[tuple[str, ...]] = ("z", "p", "support_set")

    def forward(self, out: StepOutput) -> Tensor:
        support = out.state["support_set"]
        (z1, z2), (p1, p2) = out.z[:2], out.p[:2]
        temperature = self.config.temperature
        nn1 = nearest_neighbours(z1, support, self.geometry)
        nn2 = nearest_neighbours(z2, support, self.geometry)
        return (
            nnclr_loss(nn1, p2, temperature, self.geometry)
            + nnclr_loss(nn2, p1, temperature, self.geometry)
        ) / 2
