"""The methods' own objectives as heads: NT-Xent, InfoNCE (queue / in-batch), BYOL regression."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from hyperssl.heads.base import LossHead, StepOutput
from hyperssl.losses import byol_loss, info_nce, info_nce_queue, nt_xent_views


class NTXentHead(LossHead):
    """SimCLR's NT-Xent over every view of the step (see :func:`hyperssl.losses.nt_xent_views`).

    Also a head for other methods (``heads=[nt_xent]``), e.g. a contrastive projection head
    trained beside a supervised classifier, as HCR assumes.
    """

    inputs: ClassVar[tuple[str, ...]] = ("z",)

    def __init__(
        self,
        name: str = "nt_xent",
        weight: float = 1.0,
        temperature: float = 0.2,
        geometry: str = "cosine",
    ) -> None:
        super().__init__(name, weight)
        self.temperature = temperature
        self.geometry = geometry

    def forward(self, out: StepOutput) -> Tensor:
        return nt_xent_views(out.z, self.temperature, self.geometry)


class InfoNCEQueueHead(LossHead):
    """MoCo v2's symmetric loss: (L(q1, k2, queue) + L(q2, k1, queue)) / 2, L = info_nce_queue."""

    inputs: ClassVar[tuple[str, ...]] = ("z", "k", "queue")

    def __init__(self, temperature: float, geometry: str, weight: float = 1.0) -> None:
        super().__init__("info_nce", weight)
        self.temperature, self.geometry = temperature, geometry

    def forward(self, out: StepOutput) -> Tensor:
        (q1, q2), (k1, k2) = out.z[:2], out.k[:2]
        return (
            info_nce_queue(q1, k2, out.queue, self.temperature, self.geometry)
            + info_nce_queue(q2, k1, out.queue, self.temperature, self.geometry)
        ) / 2


class MoCoV3Head(LossHead):
    """MoCo v3: 2τ (L(p1, k2) + L(p2, k1)) with L = in-batch :func:`hyperssl.losses.info_nce`
    (Chen et al. 2021, Algorithm 1: ``ctr(q1, k2) + ctr(q2, k1)``, each scaled by 2τ)."""

    inputs: ClassVar[tuple[str, ...]] = ("p", "k")

    def __init__(self, temperature: float, geometry: str, weight: float = 1.0) -> None:
        super().__init__("info_nce", weight)
        self.temperature, self.geometry = temperature, geometry

    def forward(self, out: StepOutput) -> Tensor:
        (p1, p2), (k1, k2) = out.p[:2], out.k[:2]
        pair_losses = info_nce(p1, k2, self.temperature, self.geometry) + info_nce(
            p2, k1, self.temperature, self.geometry
        )
        return 2 * self.temperature * pair_losses


class BYOLHead(LossHead):
    """BYOL: Σ_{i ≠ j} byol_loss(p_i, k_j) over the views (Grill et al. 2020, Eq. 2 symmetrised)."""

    inputs: ClassVar[tuple[str, ...]] = ("p", "k")

    def __init__(self, geometry: str, weight: float = 1.0) -> None:
        super().__init__("byol", weight)
        self.geometry = geometry

    def forward(self, out: StepOutput) -> Tensor:
        return torch.stack(
            [
                byol_loss(p, k, self.geometry)
                for i, p in enumerate(out.p)
                for j, k in enumerate(out.k)
                if i != j
            ]
        ).sum()
