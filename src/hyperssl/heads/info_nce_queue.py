"""MoCo v2's objective as a head: InfoNCE against a queue of negatives, symmetrised."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from hyperssl.heads.base import LossHead, StepOutput, TemperatureHeadConfig
from hyperssl.heads.registry import register_head
from hyperssl.losses import info_nce_queue


@register_head("info_nce_queue", TemperatureHeadConfig)
class InfoNCEQueueHead(LossHead):
    """(L(q1, k2, queue₂) + L(q2, k1, queue₁)) / 2 with L = :func:`hyperssl.losses.info_nce_queue`
    (He et al. 2020, Eq. 1, symmetrised as in solo-learn's MoCo v2+): each view's queries meet
    the other view's keys as positives and that view's queue of past keys as negatives
    (``out.queue``: [2, K, D], one queue per view, see :meth:`StepOutput.negatives_of`)."""

    inputs: ClassVar[tuple[str, ...]] = ("z", "k", "queue")

    def forward(self, out: StepOutput) -> Tensor:
        (q1, q2), (k1, k2) = out.z[:2], out.k[:2]
        temperature = self.config.temperature
        return (
            info_nce_queue(q1, k2, out.negatives_of(0), temperature, self.geometry)
            + info_nce_queue(q2, k1, out.negatives_of(1), temperature, self.geometry)
        ) / 2
