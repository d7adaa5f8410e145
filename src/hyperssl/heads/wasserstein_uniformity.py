"""The Wasserstein uniformity (Fang et al., ICLR 2024) as a head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from hyperssl.heads.base import HeadConfig, LossHead, StepOutput
from hyperssl.heads.registry import register_head
from hyperssl.losses import wasserstein_uniformity


@dataclass
class WassersteinUniformityHeadConfig(HeadConfig):
    """weight: the paper's λ was 0.2 with BYOL, 1.0 with MoCo v2 and 30 decayed linearly to 0
    over training with Barlow Twins (statsle/WassersteinSSL, code/*/run_*+w2.sh); the default
    is 1."""


@register_head("wasserstein_uniformity", WassersteinUniformityHeadConfig)
class WassersteinUniformityHead(LossHead):
    """W2 between N(μ, Σ) of the normalised projections and N(0, I/m) (Fang et al. 2024,
    Sec. 4; :func:`hyperssl.losses.wasserstein_uniformity`), in its precision (float32, float64
    for float64 z).

    One W2 of all the views' rows together ([V·B, m]), as the paper's code computes its loss
    (``calc_wasserstein_loss(z1, z2)`` concatenates the two views before the mean and the
    covariance), not a mean of per-view values. The views are gathered over processes, so μ
    and Σ are over the global batch. Euclidean: the geometry is not read.
    """

    inputs: ClassVar[tuple[str, ...]] = ("z",)

    def forward(self, out: StepOutput) -> Tensor:
        return wasserstein_uniformity(torch.cat(out.z))
