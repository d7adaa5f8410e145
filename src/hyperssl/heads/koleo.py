"""The KoLeo regulariser (Sablayrolles et al., ICLR 2019), as DINOv2 uses it, as a head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from omegaconf import DictConfig
from torch import Tensor

from hyperssl.errors import require
from hyperssl.heads.base import HeadConfig, LossHead, StepOutput
from hyperssl.heads.registry import register_head
from hyperssl.losses import koleo_loss


@dataclass
class KoLeoHeadConfig(HeadConfig):
    """weight 0.2: DINOv2's koleo_loss_weight 0.1 times its sum over the two global crops, which
    is 0.2 times this head's mean over the large views (dinov2/configs/ssl_default_config.yaml,
    dinov2/train/ssl_meta_arch.py). eps: ε of :func:`hyperssl.losses.koleo_loss`, DINOv2's
    1e-8."""

    weight: float = 0.2
    eps: float = 1e-8

    def validate(self, cfg: DictConfig | None, key: str) -> None:
        require(self.eps > 0, f"{key}.eps", self.eps, "> 0")


@register_head("koleo", KoLeoHeadConfig)
class KoLeoHead(LossHead):
    """Mean over the large views of L_KoLeo(z_v) = -(1/n) Σ_i log ρ_i, ρ_i the distance of
    ẑ_i to its nearest other row (:func:`hyperssl.losses.koleo_loss`), in its precision
    (float32, float64 for float64 z).

    DINOv2 applies it to each global crop separately ("we don't apply koleo loss between cls
    tokens of a same image"), so the views are never pooled here either, and small crops are
    left out (:meth:`StepOutput.large`). DINOv2 regularises the backbone's [CLS] token on each
    GPU's local batch; this head reads the projections z gathered over processes, so the
    neighbours are searched in the global batch (see :func:`hyperssl.losses.koleo_loss`).
    Euclidean on the sphere: the geometry is not read.
    """

    inputs: ClassVar[tuple[str, ...]] = ("z",)

    def forward(self, out: StepOutput) -> Tensor:
        eps = self.config.eps
        return torch.stack([koleo_loss(view, eps) for view in out.large(out.z)]).mean()
