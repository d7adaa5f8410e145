"""The contrastive objectives as heads."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from hyperssl.heads.base import LossHead, StepOutput
from hyperssl.losses import nt_xent_views


class NTXentHead(LossHead):
    """SimCLR's NT-Xent over every view of the step (see :func:`hyperssl.losses.nt_xent_views`)."""

    inputs: ClassVar[tuple[str, ...]] = ("z",)

    def __init__(self, temperature: float, geometry: str, weight: float = 1.0) -> None:
        super().__init__("nt_xent", weight)
        self.temperature = temperature
        self.geometry = geometry

    def forward(self, out: StepOutput) -> Tensor:
        return nt_xent_views(out.z, self.temperature, self.geometry)
