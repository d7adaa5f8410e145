"""Hyperspherical consistency (Tan et al., CVPR 2022) as a head."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from hyperssl.heads.base import HeadConfig, LossHead, StepOutput
from hyperssl.heads.registry import register_head
from hyperssl.losses import hcr_loss


@register_head("hcr", HeadConfig)
class HCRHead(LossHead):
    """``hcr_loss(logits, z)`` of the first view: the pairwise structure of the classifier's
    logits and of the projections agree (the logits of all views are stacked view-major, so the
    first B rows are the first view's)."""

    inputs: ClassVar[tuple[str, ...]] = ("logits", "z")

    def forward(self, out: StepOutput) -> Tensor:
        return hcr_loss(out.logits[: len(out.z[0])], out.z[0])
